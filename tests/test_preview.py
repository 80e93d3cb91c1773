"""Citation previews: the cited sentence highlighted on its rendered PDF page, the passage in
its surrounding text for other formats, and an honest message when the file is gone or changed.

The PDFs are generated (tests/pdfium_maker.py), ingested with the fake providers, and asked
about, so the citations are the ones the answer stage really produces.
"""

from __future__ import annotations

import html
import io
import os
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pdfium_maker import HEIGHT, make_pdf
from PIL import Image
from test_page_boxes import FakeOcrLine, highlighted

from chatbot import Chatbot, Citation, InstallError
from chatbot.config import Settings
from chatbot.highlight import fold
from chatbot.page_boxes import RENDER_SCALE, OcrBoxes
from chatbot.preview import Preview, context_html

PAGES = [
    [
        "Annual report of the lighthouse division.",
        "The lighthouse keeper logs the weather at dawn. The fog-",
        "horn sounds twice when ships approach the northern reef.",
        "Visitors may climb the tower on Sundays.",
    ],
    [
        "The submarine cable reached the island in March.",
        "Engineers buried the cable under the beach near the harbour.",
    ],
]
QUESTION = "How often does the foghorn sound when ships approach the northern reef?"
SENTENCE = "The fog-\nhorn sounds twice when ships approach the northern reef."
MARK = re.compile(r"<mark[^>]*>(.*?)</mark>", re.S)


def _key(text: str) -> str:
    return "".join(fold(c) for c in text)


@pytest.fixture
def settings(fake_settings: Settings) -> Settings:
    """The fake providers, answering whatever the (hashing) embeddings find."""
    return fake_settings.model_copy(update={"min_relevance": 0.0, "min_hybrid_score": 0.0})


@pytest.fixture
def bot(settings: Settings) -> Chatbot:
    return Chatbot(settings)


def _cite(bot: Chatbot, path: Path, question: str = QUESTION) -> Citation:
    report = bot.ingest([path])
    assert report.count("added") == 1, report.files
    answer = bot.ask(question)
    assert answer.citations, answer
    return answer.citations[0]


def _text_in_boxes(pdf: Path, page_number: int, preview: Preview) -> str:
    """What pdfium itself finds inside the highlight boxes (independently of the matching)."""
    document = pdfium.PdfDocument(str(pdf))
    textpage = document[page_number - 1].get_textpage()
    found = [
        textpage.get_text_bounded(left=x0, bottom=HEIGHT - y1, right=x1, top=HEIGHT - y0)
        for x0, y0, x1, y1 in preview.boxes
    ]
    document.close()
    return "".join(found)


def test_pdf_citation_highlights_exactly_the_supporting_sentence(
    bot: Chatbot, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    citation = _cite(bot, pdf)
    assert citation.page == 1
    preview = bot.preview(citation)
    assert preview.message == ""
    assert (preview.page, preview.origin) == (1, "text layer")
    assert len(preview.boxes) == 2  # the sentence runs over two lines
    # The boxes hold the sentence's characters and no others.
    assert _key(_text_in_boxes(pdf, 1, preview)) == _key(SENTENCE)
    # The PNG is that page, with the boxes painted in translucent yellow.
    assert preview.png is not None
    image = Image.open(io.BytesIO(preview.png)).convert("RGB")
    assert image.size == (round(612 * RENDER_SCALE), round(HEIGHT * RENDER_SCALE))
    scaled = [tuple(round(v * RENDER_SCALE) for v in box) for box in preview.boxes]
    for x0, y0, x1, y1 in scaled:
        inside = [image.getpixel((x, y)) for x in range(x0, x1, 3) for y in range(y0, y1, 3)]
        assert sum(map(highlighted, inside)) > len(inside) // 3
    width, height = image.size
    outside = [
        image.getpixel((x, y)) for x in range(0, width, 5) for y in range(0, height, 5)
        if not any(x0 - 2 <= x <= x1 + 2 and y0 - 2 <= y <= y1 + 2 for x0, y0, x1, y1 in scaled)
    ]
    assert not any(map(highlighted, outside))
    # The surrounding text, escaped, marks the same sentence.
    [marked] = MARK.findall(preview.html)
    assert html.unescape(marked) == SENTENCE


def test_a_sentence_on_the_second_page(bot: Chatbot, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    citation = _cite(bot, pdf, "Where did engineers bury the cable near the harbour?")
    preview = bot.preview(citation)
    assert preview.page == 2 and len(preview.boxes) == 1
    assert _key(_text_in_boxes(pdf, 2, preview)) == _key(
        "Engineers buried the cable under the beach near the harbour."
    )


OCR_LINES = [
    FakeOcrLine("The lighthouse keeper logs the weather at dawn. The fog-", (72, 80, 400, 94)),
    FakeOcrLine("horn sounds twice when ships approach the northern reef.", (72, 98, 390, 112)),
]


def fake_ocr_page_lines(path: Path, page_number: int, settings: Settings) -> list[FakeOcrLine]:
    """`ocr_page_lines`' signature (module-level: the page is drawn in the worker process)."""
    assert page_number == 1 and path.name == "report.pdf"
    return OCR_LINES


def test_boxes_can_come_from_ocr(bot: Chatbot, tmp_path: Path, settings: Settings) -> None:
    from chatbot.preview import preview_citation

    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    citation = _cite(bot, pdf)
    ocr = OcrBoxes(fake_ocr_page_lines, settings)
    preview = preview_citation(bot.pipeline.index, citation, settings, [ocr])
    assert preview.origin == "OCR" and preview.png is not None
    first, second = preview.boxes
    assert 200 < first[0] < 400 and first[1:] == (79.0, 401.0, 95.0)
    assert second == (71.0, 97.0, 391.0, 113.0)


def test_a_page_without_text_or_ocr_is_shown_unmarked_and_said(
    bot: Chatbot, tmp_path: Path, settings: Settings
) -> None:
    from chatbot.preview import preview_citation

    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    preview = preview_citation(bot.pipeline.index, _cite(bot, pdf), settings, providers=[])
    assert preview.png is not None and preview.boxes == []
    assert "no text layer" in preview.message and "<mark" in preview.html


def test_a_touched_but_unchanged_file_still_previews(bot: Chatbot, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    citation = _cite(bot, pdf)
    stat = pdf.stat()
    os.utime(pdf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    preview = bot.preview(citation)
    assert preview.message == "" and preview.png is not None and len(preview.boxes) == 2


def test_a_missing_file_is_said_not_highlighted(bot: Chatbot, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    citation = _cite(bot, pdf)
    pdf.unlink()
    preview = bot.preview(citation)
    assert preview.png is None and preview.boxes == []
    assert "is gone since it was indexed" in preview.message
    assert html.unescape(MARK.findall(preview.html)[0]) == SENTENCE  # the indexed text


def test_a_changed_file_is_said_not_highlighted(bot: Chatbot, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    citation = _cite(bot, pdf)
    # The same sentence moved down a line: highlighting the old place would be wrong.
    make_pdf(pdf, [["A new first line.", *PAGES[0]], PAGES[1]])
    preview = bot.preview(citation)
    assert preview.png is None and preview.boxes == []
    assert "changed since it was indexed" in preview.message
    # Re-indexed: the old answer's offsets are stale, and the preview says so.
    bot.ingest([pdf])
    stale = bot.preview(citation)
    assert stale.html == "" and "re-indexed since the answer" in stale.message
    assert bot.preview(bot.ask(QUESTION).citations[0]).boxes  # a new answer previews again


def test_other_formats_show_the_passage_in_its_text_escaped(
    tmp_path: Path, settings: Settings
) -> None:
    bot = Chatbot(settings.model_copy(update={"chunk_size": 200, "chunk_overlap": 0}))
    before = "Intro <script>alert('doc')</script> about the harbour office and its staff."
    target = "The harbour master keeps a spare beacon <img src=x onerror=alert(1)> in the shed."
    after = "Opening hours are posted <b>on the door</b> of the office every week."
    path = tmp_path / "notes <i onclick=alert(1)>x.md"
    path.write_text(f"# Harbour\n\n{before}\n\n{target}\n\n{after}\n")
    citation = _cite(bot, path, "Where does the harbour master keep a spare beacon?")
    assert "<i onclick" in citation.source
    preview = bot.preview(citation)
    assert preview.png is None and preview.page is None and preview.message == ""
    shown = preview.html
    for tag in ("<script", "<img", "<b>", "<i"):
        assert tag not in shown
    assert "&lt;script&gt;" in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    [marked] = MARK.findall(shown)
    assert html.unescape(marked) == target
    # The surrounding text is shown around the passage.
    text = html.unescape(re.sub(r"<[^>]+>", "", shown))
    assert before in text and after in text


def test_context_is_whole_paragraphs_or_cut_at_a_space() -> None:
    paragraph = "Start of the paragraph. The cited sentence. End."
    text = ("word " * 300) + f"\n\n{paragraph}\n\n" + "tail " * 300
    start = text.index("The cited")
    citation = Citation(
        n=1, source="s", chunk_id="c", text=text[start : start + 19], start=start,
        end=start + 19, support_start=start, support_end=start + 19,
    )
    body = html.unescape(re.sub(r"<[^>]+>", "", context_html(text, citation, context=100)))
    assert body == f"…{paragraph}…"
    text = text.replace("\n\n", " ")  # one long paragraph: cut between words
    body = html.unescape(re.sub(r"<[^>]+>", "", context_html(text, citation, context=100)))
    assert body.startswith("…word word") and body.endswith("tail tail…")
    assert paragraph in body and len(body) < len(paragraph) + 2 * 100 + 2
    assert html.unescape(re.sub(r"<[^>]+>", "", context_html(paragraph, Citation(
        n=1, source="s", chunk_id="c", text=paragraph, start=0, end=len(paragraph),
    )))) == paragraph  # nothing cut, no ellipsis


class NeverEnding:
    """A box provider stuck like a parser in a hostile page (until its process is killed)."""

    name = "stuck"

    def chars(self, pdf: Path, page_number: int) -> list[object]:
        import threading

        threading.Event().wait()
        return []


def test_a_page_that_never_finishes_drawing_is_stopped(
    bot: Chatbot, tmp_path: Path, settings: Settings
) -> None:
    from chatbot.preview import preview_citation

    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    citation = _cite(bot, pdf)
    quick = settings.model_copy(update={"load_timeout": 1.0})
    preview = preview_citation(bot.pipeline.index, citation, quick, [NeverEnding()])
    assert preview.png is None and "took longer than 1 s" in preview.message
    assert bot.preview(citation).boxes  # the next preview gets a fresh worker


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("<>&\"' \n\nab/=x")), min_size=1, max_size=300),
    data=st.data(),
)
def test_context_html_never_lets_document_markup_through(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    s_start = data.draw(st.integers(start, end - 1))
    s_end = data.draw(st.integers(s_start + 1, end))
    citation = Citation(
        n=1, source="s", chunk_id="c", text=text[start:end], start=start, end=end,
        support_start=s_start, support_end=s_end,
    )
    shown = context_html(text, citation, context=data.draw(st.integers(0, 400)))
    ours = re.compile(r'</?(?:div|span|mark)(?: class="chatbot-[a-z-]+" style="[^"<>]*")?>')
    assert "<" not in ours.sub("", shown) and ">" not in ours.sub("", shown)
    [marked] = MARK.findall(shown)
    assert html.unescape(marked) == text[s_start:s_end]
    body = html.unescape(re.sub(r"<[^>]+>", "", shown))
    assert text[start:end] in body


class MissingOcr:
    """An OCR provider whose extra is not installed (chatbot/ocr.py raises an InstallError)."""

    name = "OCR"

    def chars(self, pdf: Path, page_number: int) -> list[object]:
        raise InstallError("install the ocr extra: make install-ocr")


def test_a_failing_ocr_still_shows_the_page_and_says_why(
    bot: Chatbot, tmp_path: Path, settings: Settings
) -> None:
    from chatbot.preview import preview_citation

    pdf = make_pdf(tmp_path / "report.pdf", PAGES)
    preview = preview_citation(bot.pipeline.index, _cite(bot, pdf), settings, [MissingOcr()])
    assert preview.png is not None and preview.boxes == []
    assert "no text layer" in preview.message
    assert "OCR: install the ocr extra: make install-ocr" in preview.message
