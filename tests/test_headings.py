"""Titles and heading paths (chatbot/headings.py): the context line each chunk is embedded and
keyword-indexed with, never part of its cited text."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.headings import (
    CONTEXT_CHARS,
    Outline,
    heading_path,
    headings,
    outline,
    title_from_name,
    with_context,
)
from chatbot.loaders import LoadLimits, load
from chatbot.splitting import split_text

DATA = Path(__file__).resolve().parent / "data"

WORD = st.text(alphabet="abcdefghij", min_size=1, max_size=8)
#: A document as (heading level or 0 for a paragraph, words) blocks.
BLOCKS = st.lists(
    st.tuples(st.integers(0, 6), st.lists(WORD, min_size=1, max_size=3)), min_size=1, max_size=25
)


Tracked = list[tuple[int, str] | None]


def _markdown(
    blocks: list[tuple[int, list[str]]],
) -> tuple[str, list[tuple[int, list[str]]], list[tuple[int, int, str]]]:
    """The Markdown text; each paragraph's offset with the heading texts above it; and every
    heading as (offset, level, text). Tracked independently of chatbot/headings.py."""
    parts: list[str] = []
    offset = 0
    expected: list[tuple[int, list[str]]] = []
    found: list[tuple[int, int, str]] = []
    for level, words in blocks:
        body = " ".join(words)
        if level:
            line = f"{'#' * level} {body.title()}"
            found.append((offset, level, body.title()))
        else:
            line = f"Paragraph {body} ends here."
            expected.append((offset, [text for _, text in _slots(found, offset)]))
        parts.append(line)
        offset += len(line) + 2
    return "\n\n".join(parts), expected, found


def _slots(found: list[tuple[int, int, str]], offset: int) -> list[tuple[int, str]]:
    """One slot per level, set by each heading at or before `offset`, deeper ones cleared."""
    slots: Tracked = [None] * 6
    for start, level, text in found:
        if start <= offset:
            slots[level - 1] = (start, text)
            slots[level:] = [None] * (6 - level)
    return [slot for slot in slots if slot is not None]


@settings(max_examples=150, deadline=None)
@given(BLOCKS)
def test_the_heading_path_of_every_paragraph_follows_nested_headings(
    blocks: list[tuple[int, list[str]]],
) -> None:
    text, expected, _ = _markdown(blocks)
    found = headings(text)
    for offset, path in expected:
        assert heading_path(found, offset) == path


@settings(max_examples=100, deadline=None)
@given(BLOCKS, st.integers(60, 400))
def test_chunk_context_is_the_title_and_the_headings_above_it_and_text_is_unchanged(
    blocks: list[tuple[int, list[str]]], size: int
) -> None:
    text, _, found = _markdown(blocks)
    plain = split_text(text, "doc.md", size, size // 4, markdown=True)
    chunks = with_context(plain, outline(text, True, "Zzz Handbook"))
    # The cited text and its offsets are exactly what they were without context lines.
    assert [(c.text, c.start, c.end, c.index) for c in chunks] == [
        (c.text, c.start, c.end, c.index) for c in plain
    ]
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.indexed_text == f"{chunk.context}\n{chunk.text}"
        assert chunk.embedded_text == chunk.text  # keyword-indexed only, unless embed=True
        # The title, then the headings above the chunk's start that its text does not say.
        above = [t for start, t in _slots(found, chunk.start) if start < chunk.start]
        assert chunk.context == " > ".join(["Zzz Handbook", *above])


def test_title_is_the_first_level_one_heading_else_the_fallback() -> None:
    text = "Intro line.\n\n## Setup\n\nRun it.\n\n# User Guide\n\n## Usage\n\nAsk it."
    assert outline(text, True, None, "fallback").title == "User Guide"
    assert outline("## Only a section\n\nText.", True, None, "report").title == "report"
    assert outline(text, False, None, "").title == ""  # plain text has no headings
    assert outline(text, True, "", "report").title == ""  # a given title, even none, wins
    assert title_from_name("/x/2023_annual-report.v2.pdf") == "2023 annual report v2"


def test_context_leaves_out_a_title_repeated_by_its_heading_and_headings_inside() -> None:
    text = "# Garden Guide\n\n## Roses\n\nRoses like sun.\n\n### Pruning\n\nCut in March."
    doc = outline(text, True, None)
    assert doc.title == "Garden Guide"
    by_text = {c.text: c for c in with_context(split_text(text, "g.md", 60, 0, markdown=True),
                                              doc)}
    assert by_text["# Garden Guide\n\n## Roses\n\nRoses like sun."].context == ""
    assert by_text["### Pruning\n\nCut in March."].context == "Garden Guide > Roses"


def test_a_hostile_heading_cannot_crowd_out_the_text() -> None:
    text = "".join(f"{'#' * (n % 6 + 1)} {'word ' * 60}\n\n" for n in range(12)) + "Body."
    doc = outline(text, True, "T" * 500)
    [chunk] = [c for c in with_context(split_text(text, "h.md", 100, 0, markdown=True), doc)
               if c.text == "Body."]
    assert len(chunk.context) <= CONTEXT_CHARS and "\n" not in chunk.context
    assert chunk.indexed_text.endswith("\nBody.")
    assert outline("", False, "a\nb\tc").title == "a b c"


def test_no_outline_no_context() -> None:
    chunks = split_text("One sentence. Another one.", "a.txt", 100, 0)
    assert [c.context for c in with_context(chunks, Outline())] == [""]
    assert chunks[0].indexed_text == chunks[0].text


# --- titles from the loaders --------------------------------------------------------------------
def test_loaders_read_titles_from_html_docx_and_pdf_metadata(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    limits = LoadLimits()
    assert load(DATA / "formats" / "observatory.html", limits).title in {
        "Hilltop Observatory", "The Hilltop Observatory"
    }
    assert load(DATA / "formats" / "garden-guide.md", limits).title is None  # first heading
    assert load(DATA / "ingest" / "memo.docx", limits).title is None  # no core title
    assert load(DATA / "ingest" / "report.pdf", limits).title is None  # file name then
    writer = PdfWriter(clone_from=PdfReader(DATA / "ingest" / "report.pdf"))
    writer.add_metadata({"/Title": "  Quarterly\nReport  "})
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "titled.pdf").write_bytes(buffer.getvalue())
    assert load(tmp_path / "titled.pdf", limits).title == "Quarterly Report"
