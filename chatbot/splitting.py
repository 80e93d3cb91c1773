"""Text -> chunks that keep exact character offsets into the document text.

Chunks are packed from whole sentences inside paragraphs; headings, page breaks and repeated
boilerplate paragraphs are hard boundaries, so a chunk is always one contiguous span
`document[start:end]` and never cuts a sentence unless that sentence alone exceeds the size.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.models import Chunk

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n[ \t]*\n|\Z)", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_HEADING = re.compile(r"^#{1,6}\s")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def paragraphs(text: str) -> list[Span]:
    return [Span(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]


def sentences(text: str, span: Span) -> list[Span]:
    """Sentence spans inside a paragraph span (a simple rule that rarely splits abbreviations
    before a capital letter; good enough for chunk packing, where a wrong cut costs little)."""
    out: list[Span] = []
    begin = span.start
    for match in _SENTENCE_END.finditer(text, span.start, span.end):
        out.append(Span(begin, match.start() + len(match.group(0).rstrip())))
        begin = match.end()
    if begin < span.end:
        out.append(Span(begin, span.end))
    return [s for s in out if text[s.start : s.end].strip()]


def _normal(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def boilerplate_paragraphs(text: str, spans: Sequence[Span], min_chars: int = 20) -> set[int]:
    """Indexes of paragraphs whose text repeats in the document (subscribe banners and such)."""
    counts = Counter(_normal(text[s.start : s.end]) for s in spans)
    return {
        i
        for i, s in enumerate(spans)
        if counts[_normal(text[s.start : s.end])] > 1 and len(text[s.start : s.end]) >= min_chars
    }


def _split_long(text: str, span: Span, size: int) -> list[Span]:
    """Cut an over-long sentence at word boundaries into pieces of at most `size` characters."""
    pieces: list[Span] = []
    begin = span.start
    while span.end - begin > size:
        cut = text.rfind(" ", begin + 1, begin + size)
        if cut <= begin:
            cut = begin + size
        pieces.append(Span(begin, cut))
        begin = cut
        while begin < span.end and text[begin].isspace():
            begin += 1
    if begin < span.end:
        pieces.append(Span(begin, span.end))
    return pieces


def _groups(text: str, breaks: Sequence[int], markdown: bool) -> list[list[Span]]:
    """Runs of sentence units that may share a chunk; boilerplate and headings end a run."""
    spans = paragraphs(text)
    skip = boilerplate_paragraphs(text, spans)
    groups: list[list[Span]] = [[]]
    break_points = sorted(breaks)
    for i, para in enumerate(spans):
        crosses_page = any(
            groups[-1] and groups[-1][-1].end <= b <= para.start for b in break_points
        )
        if i in skip:
            groups.append([])
            continue
        is_heading = markdown and _HEADING.match(text, para.start) is not None
        if is_heading or crosses_page:
            groups.append([])
        groups[-1].extend(sentences(text, para))
    return [g for g in groups if g]


def split_text(
    text: str,
    source: str,
    chunk_size: int,
    chunk_overlap: int,
    *,
    markdown: bool = False,
    page_starts: Sequence[int] = (),
) -> list[Chunk]:
    """Pack sentences into chunks of at most `chunk_size` characters with sentence overlap.

    `page_starts[i]` is the offset where page i+1 begins; chunks never cross a page break.
    """
    chunks: list[Chunk] = []
    for group in _groups(text, page_starts[1:], markdown):
        units: list[Span] = []
        for unit in group:
            units.extend(_split_long(text, unit, chunk_size))
        first = 0
        while first < len(units):
            last = first
            while last + 1 < len(units) and units[last + 1].end - units[first].start <= chunk_size:
                last += 1
            start, end = units[first].start, units[last].end
            page = None
            if page_starts:
                page = sum(1 for p in page_starts if p <= start)
            chunks.append(Chunk(source, text[start:end], start, end, len(chunks), page))
            if last + 1 >= len(units):
                break
            # Overlap: restart at the earliest trailing sentence that fits in the overlap.
            next_first = last + 1
            while (
                next_first - 1 > first
                and units[last].end - units[next_first - 1].start <= chunk_overlap
            ):
                next_first -= 1
            first = next_first
    return chunks
