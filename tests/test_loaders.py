"""Loaders: each format through its library, normalised text, a one-line reason for bad files."""

from __future__ import annotations

import io
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from chatbot.config import Settings
from chatbot.loaders import (
    LoadLimits,
    MissingDependencyError,
    SkipFile,
    join_pages,
    load,
    normalize,
)
from chatbot.ocr import OcrLimits
from chatbot.pipeline import Pipeline

DATA = Path(__file__).resolve().parent / "data" / "ingest"
FORMATS = Path(__file__).resolve().parent / "data" / "formats"
MB = 2**20
LIMITS = LoadLimits()

ARTICLE_HTML = """<!doctype html>
<html><head><title>Lighthouses</title>
<style>.banner { color: red } STYLETEXT</style>
<script>var tracking = "SCRIPTTEXT";</script></head>
<body>
<nav><ul><li><a href="/">Home NAVTEXT</a></li><li><a href="/about">About us</a></li></ul></nav>
<header><p>HEADERTEXT: the coastal heritage site</p></header>
<main><article>
<h1>Keepers of the Light</h1>
<p>The lighthouse at Point Reyes was staffed by keepers who climbed 308 steps every evening.</p>
<h2>Fog signals</h2>
<p>When fog rolled in, the keepers ran a steam whistle that could be heard for miles.</p>
<p>Caf\u00e9 owners in the village complained about the noise every summer.</p>
</article></main>
<footer><p>FOOTERTEXT copyright the coastal trust, all rights reserved.</p></footer>
</body></html>
"""


def test_normalize_makes_nfc_and_collapses_whitespace() -> None:
    raw = "\ufeffCafe\u0301\u00a0 au\tlait\r\n\r\n\r\n\r\nsecond\u200b line  \x0cthird\x00"
    assert normalize(raw) == "Café au lait\n\nsecond line\nthird"
    assert normalize(normalize(raw)) == normalize(raw)


def test_join_pages_records_where_each_page_starts() -> None:
    document = join_pages(["  first page ", "", "third\r\npage"])
    assert document.text[document.page_starts[0] :].startswith("first page")
    assert document.text[document.page_starts[2] :] == "third\npage"
    assert document.page_starts == [0, 12, 14]


def test_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Plain   text.\r\nNext line.", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title\n\nBody.", encoding="utf-8")
    assert load(tmp_path / "a.txt", LIMITS).text == "Plain text.\nNext line."
    assert not load(tmp_path / "a.txt", LIMITS).markdown
    assert load(tmp_path / "b.md", LIMITS).markdown


def test_utf16_with_byte_order_mark_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Ünïcode in UTF-16.".encode("utf-16"))
    assert load(path, LIMITS).text == "Ünïcode in UTF-16."


def test_html_keeps_main_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(ARTICLE_HTML, encoding="utf-8")
    document = load(path, LIMITS)
    assert document.markdown
    assert "# Keepers of the Light" in document.text
    assert "climbed 308 steps" in document.text
    assert "Café owners" in document.text
    for noise in ("STYLETEXT", "SCRIPTTEXT", "NAVTEXT", "HEADERTEXT", "FOOTERTEXT"):
        assert noise not in document.text


def test_html_in_a_declared_legacy_charset(tmp_path: Path) -> None:
    path = tmp_path / "legacy.htm"
    html = ARTICLE_HTML.replace("<head>", '<head><meta charset="windows-1252">')
    path.write_bytes(html.encode("cp1252"))
    assert "Café owners" in load(path, LIMITS).text


def test_pdf_text_per_page() -> None:
    document = load(DATA / "report.pdf", LIMITS)
    assert len(document.page_starts) == 3
    pages = [
        document.text[start:end].strip()
        for start, end in zip(
            document.page_starts, [*document.page_starts[1:], len(document.text)], strict=True
        )
    ]
    assert "lighthouse division" in pages[0]
    assert "submarine cable" in pages[1]
    assert "mentoring programme" in pages[2]


def _encrypted(user_password: str, algorithm: str) -> bytes:
    writer = PdfWriter(clone_from=DATA / "report.pdf")
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_with_only_an_owner_password_opens(tmp_path: Path) -> None:
    path = tmp_path / "restricted.pdf"
    path.write_bytes(_encrypted("", "AES-128"))
    assert PdfReader(path).is_encrypted
    assert "submarine cable" in load(path, LIMITS).text


def test_docx_headings_paragraphs_and_tables() -> None:
    document = load(DATA / "memo.docx", LIMITS)
    assert document.markdown
    assert "# Harvest" in document.text
    assert "quince harvest started early" in document.text
    assert "Variety: Smyrna | Crates: 412" in document.text  # the row names its columns


def _broken_docx(path: Path) -> None:
    data = (DATA / "memo.docx").read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _docx_with_bad_xml(path: Path) -> None:
    with zipfile.ZipFile(DATA / "memo.docx") as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "word/document.xml":
                body = body[: len(body) // 2]
            dst.writestr(item, body)


def _blank_pdf(path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.write(path)


BAD_FILES = {
    "empty.txt": (lambda p: p.write_bytes(b""), "empty file"),
    "spaces.md": (lambda p: p.write_text(" \n\t\n"), "no text could be extracted"),
    "binary.txt": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary"),
    "latin1.txt": (lambda p: p.write_bytes("Caf\u00e9 cr\u00e8me".encode("latin-1")), "UTF-8"),
    "truncated.pdf": (
        lambda p: p.write_bytes((DATA / "report.pdf").read_bytes()[:600]),
        "corrupt or unreadable PDF",
    ),
    "not-really.pdf": (lambda p: p.write_text("just words"), "corrupt or unreadable PDF"),
    "locked.pdf": (lambda p: p.write_bytes(_encrypted("secret", "AES-256")), "password"),
    "scan.pdf": (_blank_pdf, "no extractable text"),
    "broken.docx": (_broken_docx, "not a readable .docx"),
    "bad-xml.docx": (_docx_with_bad_xml, "corrupt .docx"),
    "binary.html": (lambda p: p.write_bytes(b"\x00\x01\x02" * 100), "binary"),
    "empty-page.html": (lambda p: p.write_text("<html><body></body></html>"), "no main text"),
    "big.txt": (lambda p: p.write_text("word " * 60_000), "too large"),
    "picture.png": (lambda p: p.write_bytes(b"\x89PNG"), "unsupported file type .png"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_skipfile_with_a_one_line_reason(tmp_path: Path, name: str) -> None:
    make, expected = BAD_FILES[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(SkipFile) as caught:
        load(path, LoadLimits(max_bytes=int(0.2 * MB)))
    reason = str(caught.value)
    assert expected in reason
    assert "\n" not in reason
    assert len(reason) < 200


# --- issue 13 item 9: caps, linear loaders and a time limit per file ---------------------------
def many_paragraphs_docx(path: Path, pairs: int) -> Path:
    """memo.docx with `pairs` heading + paragraph pairs (2 * pairs paragraphs)."""
    para = (
        '<w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Step</w:t></w:r></w:p>'
        "<w:p><w:r><w:t>x</w:t><w:tab/><w:t>y</w:t></w:r></w:p>"
    )
    with zipfile.ZipFile(DATA / "memo.docx") as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "word/document.xml":
                head, _, rest = body.decode().partition("<w:body>")
                tail = rest.partition("</w:body>")[2]
                body = f"{head}<w:body>{para * pairs}</w:body>{tail}".encode()
            dst.writestr(item, body, zipfile.ZIP_DEFLATED)
    return path


def shared_stream_pdf(path: Path, pages: int = 100, repeat: int = 300) -> Path:
    """report.pdf's first page drawn `repeat` times in one compressed stream, which all
    `pages` pages share: a few KB that expand to millions of characters if read per page."""
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter(clone_from=DATA / "report.pdf")
    first = writer.pages[0]
    stream = DecodedStreamObject()
    stream.set_data(first.get_contents().get_data() * repeat)  # type: ignore[union-attr]
    shared = writer._add_object(stream.flate_encode())
    while len(writer.pages) < pages:
        writer.add_page(first)
    for page in writer.pages:
        page[NameObject("/Contents")] = shared
    writer.write(path)
    return path


def test_docx_paragraph_cap_is_a_clear_skip(tmp_path: Path) -> None:
    path = many_paragraphs_docx(tmp_path / "many.docx", 100_000)  # 200k paragraphs, ~80 KB
    assert path.stat().st_size < 200_000
    with pytest.raises(SkipFile, match=r"more than 100,000 paragraphs.*MAX_FILE_PARAGRAPHS"):
        load(path, LIMITS)


def test_docx_reading_never_resolves_styles_per_paragraph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docx.text.paragraph import Paragraph

    from chatbot.loaders import load_docx

    def refuse(self: object) -> None:
        raise AssertionError("Paragraph.style costs an XPath lookup per call")

    monkeypatch.setattr(Paragraph, "style", property(refuse))
    document = load_docx(many_paragraphs_docx(tmp_path / "m.docx", 2_000), LIMITS)
    assert document.text.count("## Step") == 2_000
    assert document.text.count("x y") == 2_000  # the tab between the runs' texts
    assert "# Harvest" in load_docx(DATA / "memo.docx", LIMITS).text


def test_pdf_pages_sharing_one_stream_are_read_once(tmp_path: Path) -> None:
    path = shared_stream_pdf(tmp_path / "shared.pdf")
    assert path.stat().st_size < 10_000
    document = load(path, LIMITS)
    one_page = len(PdfReader(path).pages[0].extract_text())
    assert len(document.page_starts) == 100
    assert len(document.text) <= one_page + 2 * 100  # one copy and 99 page breaks, not 100 copies


def test_character_and_page_caps(tmp_path: Path) -> None:
    text = tmp_path / "long.txt"
    text.write_text("word " * 5000)
    with pytest.raises(SkipFile, match=r"more than 1,000 characters.*CHATBOT_MAX_FILE_CHARS"):
        load(text, LoadLimits(max_chars=1000))
    pdf = shared_stream_pdf(tmp_path / "pages.pdf", pages=12, repeat=1)
    with pytest.raises(SkipFile, match=r"12 pages > 10 \(CHATBOT_MAX_FILE_PAGES\)"):
        load(pdf, LoadLimits(max_pages=10))
    with pytest.raises(SkipFile, match="CHATBOT_MAX_FILE_CHARS"):
        big = shared_stream_pdf(tmp_path / "big.pdf", pages=1, repeat=300)
        load(big, LoadLimits(max_chars=5000))


def sleepy_loader(path: Path, limits: LoadLimits) -> object:
    """A parser that hangs (runs in the worker process)."""
    import time

    time.sleep(60)
    raise AssertionError("not reached")


def crashing_loader(path: Path, limits: LoadLimits) -> object:
    import os

    os._exit(3)


@pytest.mark.timeout(120)  # a hang guard, not a performance assertion
def test_a_hanging_parser_is_stopped_by_the_time_limit(tmp_path: Path) -> None:
    from chatbot.loaders import _in_worker

    path = tmp_path / "slow.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(SkipFile, match=r"took longer than 1 s to read \(CHATBOT_LOAD_TIMEOUT\)"):
        _in_worker(sleepy_loader, path, LoadLimits(seconds=1))
    with pytest.raises(SkipFile, match="the parser crashed on it"):
        _in_worker(crashing_loader, path, LoadLimits(seconds=30))
    assert "lighthouse division" in load(DATA / "report.pdf", LIMITS).text  # a fresh worker


def test_limits_come_from_the_settings() -> None:
    from chatbot.config import Settings

    settings = Settings(
        max_file_mb=2, max_file_chars=5000, max_file_pages=7, max_file_paragraphs=9,
        load_timeout=3.5, ocr="off", ocr_max_pages=4, ocr_page_seconds=1.5,
        _env_file=None,  # type: ignore[call-arg]
    )
    ocr = OcrLimits(mode="off", max_pages=4, page_seconds=1.5, file_seconds=3.5)
    assert LoadLimits.from_settings(settings) == LoadLimits(2 * MB, 5000, 7, 9, 3.5, ocr)


# --- fuzzing: no input raises anything but SkipFile (bounded for CI) ----------------------------
SEEDS_BY_SUFFIX = {
    ".pdf": (DATA / "report.pdf").read_bytes(),
    ".docx": (DATA / "memo.docx").read_bytes(),
    ".html": ARTICLE_HTML.encode(),
    ".txt": "Plain text with a café.\n\nSecond paragraph.".encode(),
    ".md": b"# Title\n\nBody [1] ![](x) text.",
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid file of some type with a few bytes overwritten, cut short, or spliced."""
    suffix = draw(st.sampled_from(sorted(SEEDS_BY_SUFFIX)))
    data = bytearray(SEEDS_BY_SUFFIX[suffix])
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    if draw(st.booleans()):
        data += draw(st.binary(max_size=64))
    return suffix, bytes(data)


RANDOM = st.tuples(st.sampled_from(sorted(SEEDS_BY_SUFFIX)), st.binary(max_size=512))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=st.one_of(mutated(), RANDOM))
def test_fuzz_loaders_raise_only_skipfile(tmp_path: Path, case: tuple[str, bytes]) -> None:
    suffix, data = case
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        document = load(path, LoadLimits(seconds=60))
    except SkipFile as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert document.text.strip()
        assert all(0 <= s <= len(document.text) for s in document.page_starts)


def test_every_supported_format_is_ingested(fake_settings: Settings, tmp_path: Path) -> None:
    """One file of each format through the whole ingest: none may be skipped (an extractor that
    cannot import is an install problem, raised, never a skip)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for fixture in [*sorted(FORMATS.iterdir()), DATA / "report.pdf", DATA / "memo.docx"]:
        shutil.copy(fixture, docs / fixture.name)
    index = Pipeline.build(fake_settings).index
    report = index.ingest([docs])
    added = {Path(f.source).suffix: f for f in report.files if f.status == "added"}
    assert sorted(added) == [".docx", ".html", ".md", ".pdf", ".txt"], report.files
    facts = {".txt": "7:40", ".md": "late July", ".html": "2.4 metres", ".pdf": "nine percent"}
    for suffix, fact in facts.items():
        assert fact in (index.document_text(added[suffix].source) or "")
    assert "NAVTEXT" not in (index.document_text(added[".html"].source) or "")


def test_an_extractor_that_cannot_import_stops_the_ingest(
    fake_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(DATA / "report.pdf", tmp_path / "report.pdf")
    monkeypatch.setitem(sys.modules, "pypdf", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match="pdf extractor cannot import pypdf"):
        Pipeline.build(fake_settings).index.ingest([tmp_path / "report.pdf"])
