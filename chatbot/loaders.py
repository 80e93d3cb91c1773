"""File -> normalised document text (plus page starts), or a one-line reason to skip it.

The normalised text is what gets stored and what every chunk offset points into, so
normalisation happens exactly once, here, before splitting. Each format is read by a library
made for it (pypdf, python-docx, trafilatura); a file any of them chokes on becomes a
`SkipFile` with a reason instead of an exception that would abort a whole ingest.

`load(path, limits)` is the one entry point. Small files are cheap to read and hostile ones must
not cost minutes, so every file is bounded by `LoadLimits` (bytes, extracted characters, pages,
paragraphs, seconds): plain text is read in-process (linear, bounded by its size), while PDF,
DOCX and HTML parsers run in a worker process that is killed when a file takes too long.
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import logging
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chatbot import docx_text, pdf_tables, tables
from chatbot.errors import InstallError

# Re-exported: ingest, tests and benchmarks import these from here.
from chatbot.loaded import LoadedDocument as LoadedDocument
from chatbot.loaded import LoadLimits as LoadLimits
from chatbot.loaded import SkipFile as SkipFile
from chatbot.loaded import join_pages as join_pages
from chatbot.loaded import normalize as normalize
from chatbot.ocr import fill_missing_pages
from chatbot.worker import TimeLimitExceeded, WorkerDied, time_limited

#: The one fix for a missing or broken third-party package.
REINSTALL = "reinstall from the lock: make install"


class MissingDependencyError(InstallError, ImportError):
    """A format's extractor cannot be imported: an install problem, not a bad file, so it
    stops the ingest once instead of skipping every file of that format."""


#: The modules each extractor needs (lxml_html_clean: trafilatura's HTML cleaner, a separate
#: project since lxml 5.2, imported by trafilatura at import time).
EXTRACTOR_MODULES: dict[str, tuple[str, ...]] = {
    "html": ("lxml_html_clean", "trafilatura"),
    "pdf": ("pypdf", "pdfplumber"),
    "docx": ("docx",),
}


def require_extractor(kind: str) -> None:
    """Import what the `kind` extractor needs, or raise MissingDependencyError naming the fix."""
    for module in EXTRACTOR_MODULES[kind]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingDependencyError(
                f"the {kind} extractor cannot import {module} ({_first_line(exc)}); {REINSTALL}"
            ) from exc


def _check_not_binary(data: bytes) -> None:
    if b"\x00" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes), not text")


def _decode(data: bytes) -> str:
    """UTF-8 (or UTF-16 with a byte-order mark); anything else is refused, not guessed."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise SkipFile("not valid UTF-16 despite its byte-order mark") from None
    _check_not_binary(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile(
            f"not valid UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from None


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a parser's own warnings (pypdf logs 'EOF marker not found' and such)."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.ERROR + 10)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _first_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    return detail[:160]


def load_text(path: Path, limits: LoadLimits) -> LoadedDocument:
    text = normalize(_decode(path.read_bytes()))
    return LoadedDocument(text, markdown=path.suffix.lower() in {".md", ".markdown"})


def load_html(path: Path, limits: LoadLimits) -> LoadedDocument:
    """Main text only (trafilatura drops scripts, styles, navigation, headers and footers).

    Markdown output keeps headings and paragraph breaks for the splitter; trafilatura reads the
    page's declared charset itself, so non-UTF-8 HTML is fine.
    """
    import trafilatura

    data = path.read_bytes()
    _check_not_binary(data)
    with _quiet("trafilatura"), _quiet("htmldate"):
        try:
            text = trafilatura.extract(
                data,
                output_format="markdown",
                include_comments=False,
                include_tables=True,
                include_images=False,
                include_links=False,
            )
        except Exception as exc:  # the extractor's own failure on a malformed page
            raise SkipFile(f"unreadable HTML ({_first_line(exc)})") from None
    if not text:
        raise SkipFile("no main text found in the HTML page")
    body, spans = tables.assemble_markdown(text, normalize)
    return LoadedDocument(body, markdown=True, tables=spans, title=_html_title(data))


def _html_title(data: bytes) -> str | None:
    """The page's title as trafilatura reads it (<title>, og:title or the main <h1>)."""
    from trafilatura import extract_metadata

    with _quiet("trafilatura"), _quiet("htmldate"):
        try:
            return _metadata_title(getattr(extract_metadata(data), "title", None))
        except Exception:  # a title is optional: a page it chokes on just has none
            return None


def _metadata_title(value: Any) -> str | None:
    """A metadata title as text, None when it is missing or blank."""
    text = " ".join(normalize(str(value)).split()) if value else ""
    return text or None


def _content_keys(page: Any) -> tuple[Any, ...]:
    """Identities of the content streams a page draws (indirect references)."""
    contents = page.get("/Contents")
    items = contents if isinstance(contents, list) else [contents]
    keys = []
    for item in items:
        ref = getattr(item, "indirect_reference", None) or item
        if hasattr(ref, "idnum"):
            keys.append((ref.idnum, ref.generation))
        else:
            return ()  # a direct object: cannot be shared
    return tuple(keys)


def _pdf_pages(reader: Any, limits: LoadLimits) -> list[str]:
    """Each page's text; a page drawing only content streams already read adds nothing (a
    17 KB file can point 100 pages at one huge stream), and the character cap stops early."""
    if len(reader.pages) > limits.max_pages:
        raise SkipFile(
            f"{len(reader.pages):,} pages > {limits.max_pages:,} (CHATBOT_MAX_FILE_PAGES)"
        )
    seen: set[tuple[Any, ...]] = set()
    pages: list[str] = []
    total = 0
    for page in reader.pages:
        keys = _content_keys(page)
        if keys and all(k in seen for k in keys):
            pages.append("")
            continue
        seen.update(keys)
        text = page.extract_text() or ""
        total += len(text)
        limits.check_chars(total)
        pages.append(text)
    return pages


def load_pdf(path: Path, limits: LoadLimits) -> LoadedDocument:
    """Text of each page; encrypted files open only when they need no password."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    with _quiet("pypdf"):
        try:
            reader = PdfReader(path)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except DependencyError:
                    raise SkipFile(
                        "encrypted PDF needs the 'cryptography' package to open"
                    ) from None
                if not opened:
                    raise SkipFile("encrypted PDF (password protected)")
            pages = _pdf_pages(reader, limits)
            title = _pdf_title(reader)
        except SkipFile:
            raise
        except Exception as exc:  # pypdf raises many types for damaged files
            raise SkipFile(f"corrupt or unreadable PDF ({_first_line(exc)})") from None
    if not pages:
        raise SkipFile("PDF has no pages")
    with _quiet("pypdf"), _quiet("pdfminer"):  # ruled tables become rows with column names
        pages, page_tables = pdf_tables.with_tables(
            path, reader, pages, normalize, budget=limits.seconds / 2
        )
    ocr = fill_missing_pages(path, pages, limits.ocr)  # pages without a text layer
    document = join_pages(ocr.pages)
    document.ocr_pages, document.notes = ocr.ocr_pages, ocr.notes
    document.tables = pdf_tables.document_spans(document.text, document.page_starts, page_tables)
    if not document.text.strip():
        raise SkipFile("; ".join(ocr.notes) or "PDF has no extractable text")
    document.title = title
    return document


def _pdf_title(reader: Any) -> str | None:
    """The document information's /Title, if it has one."""
    try:
        return _metadata_title(reader.metadata.title if reader.metadata else None)
    except Exception:  # a damaged info dictionary: the file name will do
        return None


def _docx_blocks(document: Any, limits: LoadLimits) -> Iterator[str | tables.Table]:
    """The document's lines and tables (see `docx_text.blocks`) within the paragraph (and
    table row) and character caps."""
    chars = count = 0
    for block in docx_text.blocks(document):
        rows = block.rows if isinstance(block, tables.Table) else [[block]]
        count += max(len(rows), 1)
        if count > limits.max_paragraphs:
            raise SkipFile(
                f"more than {limits.max_paragraphs:,} paragraphs and table rows "
                "(CHATBOT_MAX_FILE_PARAGRAPHS)"
            )
        chars += sum(len(cell) for row in rows for cell in row)
        limits.check_chars(chars)
        yield block


def load_docx(path: Path, limits: LoadLimits) -> LoadedDocument:
    import docx
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(str(path))
        out = tables.Assembler(normalize)
        for block in _docx_blocks(document, limits):
            if isinstance(block, tables.Table):
                out.table(block)
            else:
                out.text(block)
        title = _docx_title(document)
    except SkipFile:
        raise
    except (OpcError, zipfile.BadZipFile, KeyError):
        raise SkipFile(
            "not a readable .docx (corrupt, password protected or another format)"
        ) from None
    except Exception as exc:  # malformed XML inside a valid zip, and such
        raise SkipFile(f"corrupt .docx ({_first_line(exc)})") from None
    text, spans = out.result()
    return LoadedDocument(text, markdown=True, tables=spans, title=title)


def _docx_title(document: Any) -> str | None:
    """The core properties' title, if it has one (a broken docProps part: none)."""
    try:
        return _metadata_title(document.core_properties.title)
    except Exception:
        return None


Loader = Callable[[Path, LoadLimits], LoadedDocument]

LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_text,
    ".markdown": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".xhtml": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def is_markdown(path: Path) -> bool:
    """Whether `load` gives this file's text Markdown structure (`#` headings)."""
    suffix = path.suffix.lower()
    return suffix in {".md", ".markdown"} or LOADERS.get(suffix) in (load_html, load_docx)


#: Read in this process: decoding and normalising are linear in the (capped) file size.
IN_PROCESS = frozenset({load_text})
#: The extractor each worker-side loader needs, checked here before a file goes to the worker.
EXTRACTOR_OF: dict[Loader, str] = {load_html: "html", load_pdf: "pdf", load_docx: "docx"}


def load(path: Path, limits: LoadLimits) -> LoadedDocument:
    """Load one file or raise SkipFile with the reason (the only exception it raises for a
    bad file: parser failures, caps and the time limit all become SkipFile)."""
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise SkipFile(
            f"unsupported file type {suffix or '(no extension)'}; "
            f"supported: {', '.join(sorted(LOADERS))}"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SkipFile(f"cannot read the file ({exc.strerror})") from None
    if size == 0:
        raise SkipFile("empty file")
    if size > limits.max_bytes:
        raise SkipFile(
            f"too large ({size / 2**20:.1f} MiB > CHATBOT_MAX_FILE_MB "
            f"{limits.max_bytes / 2**20:g} MiB)"
        )
    if loader in IN_PROCESS:
        document = _guarded(loader, path, limits)
    else:
        require_extractor(EXTRACTOR_OF[loader])  # an install problem, raised, never a skip
        document = _in_worker(loader, path, limits)
    limits.check_chars(len(document.text))
    if not document.text.strip():
        raise SkipFile("no text could be extracted")
    return document


def _in_worker(loader: Loader, path: Path, limits: LoadLimits) -> LoadedDocument:
    try:
        # Absolute: the worker keeps the working directory it was started in.
        document = time_limited(_guarded, loader, path.absolute(), limits, seconds=limits.seconds)
        return document  # type: ignore[no-any-return]
    except TimeLimitExceeded:
        raise SkipFile(
            f"took longer than {limits.seconds:g} s to read (CHATBOT_LOAD_TIMEOUT)"
        ) from None
    except WorkerDied as exc:
        raise SkipFile(f"the parser crashed on it ({exc})") from None


def _guarded(loader: Loader, path: Path, limits: LoadLimits) -> LoadedDocument:
    try:
        return loader(path, limits)
    except OSError as exc:
        raise SkipFile(f"cannot read the file ({exc.strerror or exc})") from None
    except RecursionError:  # deeply nested markup in a hostile file
        raise SkipFile("too deeply nested to parse") from None
    except MemoryError:
        raise SkipFile("needs more memory to parse than is available") from None
