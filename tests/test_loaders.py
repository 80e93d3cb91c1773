"""Loaders: each format through its library, normalised text, a one-line reason for bad files."""

from __future__ import annotations

import io
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from chatbot.config import Settings
from chatbot.loaders import (
    MissingDependencyError,
    SkipFile,
    discover,
    join_pages,
    load,
    normalize,
)
from chatbot.pipeline import Pipeline

DATA = Path(__file__).resolve().parent / "data" / "ingest"
FORMATS = Path(__file__).resolve().parent / "data" / "formats"
MB = 2**20

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
    assert load(tmp_path / "a.txt", MB).text == "Plain text.\nNext line."
    assert not load(tmp_path / "a.txt", MB).markdown
    assert load(tmp_path / "b.md", MB).markdown


def test_utf16_with_byte_order_mark_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Ünïcode in UTF-16.".encode("utf-16"))
    assert load(path, MB).text == "Ünïcode in UTF-16."


def test_html_keeps_main_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(ARTICLE_HTML, encoding="utf-8")
    document = load(path, MB)
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
    assert "Café owners" in load(path, MB).text


def test_pdf_text_per_page() -> None:
    document = load(DATA / "report.pdf", MB)
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
    assert "submarine cable" in load(path, MB).text


def test_docx_headings_paragraphs_and_tables() -> None:
    document = load(DATA / "memo.docx", MB)
    assert document.markdown
    assert "# Harvest" in document.text
    assert "quince harvest started early" in document.text
    assert "Smyrna | 412" in document.text


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
        load(path, int(0.2 * MB))
    reason = str(caught.value)
    assert expected in reason
    assert "\n" not in reason
    assert len(reason) < 200


def test_discover_walks_folders_with_globs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub" / "deeper").mkdir(parents=True)
    (docs / ".git").mkdir()
    for name in ("a.md", "sub/b.txt", "sub/deeper/c.pdf", "sub/draft.txt", ".git/config.txt"):
        (docs / name).write_text("x")
    (docs / ".hidden.txt").write_text("x")

    def names(found: list[Path]) -> list[str]:
        return sorted(p.relative_to(docs).as_posix() for p in found)

    assert names(discover([docs])) == ["a.md", "sub/b.txt", "sub/deeper/c.pdf", "sub/draft.txt"]
    assert names(discover([docs], include=["*.txt"])) == ["sub/b.txt", "sub/draft.txt"]
    assert names(discover([docs], exclude=["*draft*", "*/deeper/*"])) == ["a.md", "sub/b.txt"]
    # A folder and a file inside it, named twice: each file once.
    assert len(discover([docs, docs / "a.md", docs])) == 4



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
