"""A citation shown where it stands: the PDF page with its supporting sentence highlighted, or,
for other formats, the passage in its surrounding text with the sentence marked.

The index records each source's real path, its stat when it was read and its text; a preview
never highlights a place the citation does not point at. When the file is gone, or has changed
since it was indexed (its stat differs and its text, read again, differs too), the preview
says so and shows the indexed text instead of the page. When the document was re-indexed since
the answer, the citation's offsets are stale and the preview says that.
"""

from __future__ import annotations

import html
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot import page_boxes, records
from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.highlight import Box
from chatbot.loaders import LoadLimits, SkipFile, load
from chatbot.models import Citation
from chatbot.page_boxes import BoxProvider
from chatbot.worker import TimeLimitExceeded, time_limited

if TYPE_CHECKING:
    from chatbot.index import Index

#: Characters of surrounding text shown on each side of a passage (cut at a paragraph or word).
CONTEXT_CHARS = 600
CONTEXT_STYLE = "white-space:pre-wrap;line-height:1.55;color:rgba(49,51,63,.75)"
PASSAGE_STYLE = "color:inherit;background:rgba(184,198,240,.25);border-radius:.2em"
MARK_STYLE = "background:#ffe168;color:#111;padding:0 .1em"


@dataclass
class Preview:
    """What the app shows for one citation.

    `html` (escaped; the passage in its surrounding text, sentence in `<mark>`) is always
    there; for a PDF whose file is as indexed, `png` is the rendered page with `boxes` (points
    from the page's top-left corner) drawn over the sentence, found through `origin`."""

    source: str
    html: str
    page: int | None = None
    png: bytes | None = None
    boxes: list[Box] = field(default_factory=list)
    origin: str = ""  # "text layer" or "OCR": where the boxes came from
    message: str = ""  # why the page or the highlight is missing, when it is


def file_problem(stored: records.StoredDocument, settings: Settings) -> str | None:
    """Why the file may no longer match the index (gone, unreadable, changed), or None."""
    path = Path(stored.path)
    try:
        info = path.stat()
    except OSError:
        return f"the file {path} is gone since it was indexed"
    if (info.st_size, info.st_mtime_ns) == (stored.size, stored.mtime_ns):
        return None
    try:  # touched or copied: the same text still points at the same places
        document = load(path, LoadLimits.from_settings(settings))
    except SkipFile as exc:
        return f"the file {path} changed since it was indexed and cannot be read ({exc})"
    if document.text == stored.text and list(document.page_starts) == stored.page_starts:
        return None
    return f"the file {path} changed since it was indexed; re-index it to see its pages"


def _support(citation: Citation) -> tuple[int, int]:
    """The supporting sentence's offsets, or the whole passage's when they are missing."""
    start, end = citation.support_start, citation.support_end
    if start is None or end is None or not citation.start <= start < end <= citation.end:
        return citation.start, citation.end
    return start, end


def _context_bounds(text: str, start: int, end: int, context: int) -> tuple[int, int]:
    """Where the shown text begins and ends: a paragraph break or a space near `context`."""
    lo = max(0, start - context)
    if lo > 0:
        paragraph = text.find("\n\n", lo, start)
        space = text.find(" ", lo, start)
        lo = paragraph + 2 if paragraph >= 0 else (space + 1 if space >= 0 else start)
    hi = min(len(text), end + context)
    if hi < len(text):
        paragraph = text.rfind("\n\n", end, hi)
        space = text.rfind(" ", end, hi)
        hi = paragraph if paragraph >= 0 else (space if space >= 0 else end)
    return lo, hi


def context_html(text: str, citation: Citation, context: int = CONTEXT_CHARS) -> str:
    """The passage inside its surrounding text, everything escaped, the sentence in `<mark>`."""
    s_start, s_end = _support(citation)
    lo, hi = _context_bounds(text, citation.start, citation.end, context)
    esc = html.escape
    body = (
        ("…" if lo > 0 else "")
        + esc(text[lo : citation.start])
        + f'<span class="chatbot-preview-passage" style="{PASSAGE_STYLE}">'
        + esc(text[citation.start : s_start])
        + f'<mark class="chatbot-support" style="{MARK_STYLE}">{esc(text[s_start:s_end])}</mark>'
        + esc(text[s_end : citation.end])
        + "</span>"
        + esc(text[citation.end : hi])
        + ("…" if hi < len(text) else "")
    )
    return f'<div class="chatbot-preview-text" style="{CONTEXT_STYLE}">{body}</div>'


def preview_citation(
    index: Index,
    citation: Citation,
    settings: Settings,
    providers: Sequence[BoxProvider] | None = None,
) -> Preview:
    """The preview of one citation (see `Preview`); `providers` default to the text layer,
    then OCR when it is installed."""
    space = index.active()
    with index.connection() as db:
        stored = records.stored_document(db, space.physical, citation.source)
    if stored is None:
        return Preview(citation.source, "", message="this document is no longer indexed")
    if stored.text[citation.start : citation.end] != citation.text:
        return Preview(
            citation.source, "",
            message="this document was re-indexed since the answer; ask again to see it",
        )
    shown = Preview(citation.source, context_html(stored.text, citation), page=citation.page)
    problem = file_problem(stored, settings)
    if problem:
        shown.message = f"{problem}: the passage is shown as it was indexed"
        return shown
    if Path(stored.path).suffix.lower() != ".pdf":
        return shown
    chosen = providers if providers is not None else page_boxes.default_providers(settings)
    return _on_page(shown, stored, citation, chosen, settings.load_timeout)


def _on_page(
    shown: Preview,
    stored: records.StoredDocument,
    citation: Citation,
    providers: Sequence[BoxProvider],
    seconds: float,
) -> Preview:
    """`shown` with the rendered page and the boxes over the supporting sentence (the page
    is read and drawn in the worker process, within `seconds`)."""
    s_start, s_end = _support(citation)
    page = bisect_right(stored.page_starts, s_start) if stored.page_starts else citation.page or 1
    shown.page = page
    try:
        drawn = time_limited(
            page_boxes.highlighted_page, Path(stored.path), page, stored.text[s_start:s_end],
            list(providers), seconds=seconds,
        )
    except TimeLimitExceeded:
        shown.message = f"page {page} took longer than {seconds:g} s to draw (CHATBOT_LOAD_TIMEOUT)"
        return shown
    # WorkerDied and pdfium's PdfiumError are RuntimeErrors; a damaged file raises the others.
    except (RuntimeError, OSError, IndexError, ValueError, ChatbotError) as exc:
        shown.message = f"page {page} could not be drawn ({type(exc).__name__}: {exc})"
        return shown
    shown.png, shown.boxes, shown.origin = drawn.png, drawn.boxes, drawn.origin
    if not drawn.origin:
        why = f" ({'; '.join(drawn.notes)})" if drawn.notes else ""
        shown.message = (
            f"page {page} has no text layer to find the sentence in (a scanned page){why}: "
            "it is marked in the text below"
        )
    elif not drawn.boxes:
        shown.message = (
            f"the supporting sentence could not be located on page {page}: "
            "it is marked in the text below"
        )
    return shown
