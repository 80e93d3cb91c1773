"""Text -> chunks that keep exact character offsets into the document text.

Chunks are packed from whole sentences inside paragraphs; headings, page breaks and repeated
boilerplate (paragraphs repeated in a document, running headers/footers of PDF pages) are hard
boundaries, so a chunk is always one contiguous span `document[start:end]` that contains no
boilerplate and never cuts a sentence unless that sentence alone exceeds the size. Tables (spans
from the loader) are packed by whole rows, one table per chunk.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from chatbot.models import Chunk
from chatbot.sentences import sentence_spans

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\s*\n[ \t]*\n|\s*\Z)", re.S)
_HEADING = re.compile(r"#{1,6}\s")
_HEADING_LINE = re.compile(r"^#{1,6}[ \t].*$", re.M)
_LINE = re.compile(r"[^\n]+")
_WS = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if start < end else None


def paragraphs(text: str, markdown: bool = False) -> list[Span]:
    """Blank-line separated blocks; in markdown every heading line is a block of its own."""
    spans = [Span(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]
    if not markdown:
        return spans
    out: list[Span] = []
    for span in spans:
        begin = span.start
        for match in _HEADING_LINE.finditer(text, span.start, span.end):
            for piece in (_trimmed(text, begin, match.start()), Span(match.start(), match.end())):
                if piece:
                    out.append(piece)
            begin = match.end()
        rest = _trimmed(text, begin, span.end)
        if rest:
            out.append(rest)
    return out


def sentences(text: str, span: Span) -> list[Span]:
    """Sentence spans inside a paragraph span (the project's one splitter, chatbot.sentences)."""
    return [Span(a, b) for a, b in sentence_spans(text, span.start, span.end)]


def _normal(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def boilerplate_paragraphs(text: str, spans: Sequence[Span], min_chars: int = 20) -> set[int]:
    """Indexes of paragraphs whose text repeats in the document (subscribe banners and such)."""
    keys = [_normal(text[s.start : s.end]) for s in spans]
    counts = Counter(keys)
    return {i for i, key in enumerate(keys) if counts[key] > 1 and len(key) >= min_chars}


def page_furniture(text: str, page_starts: Sequence[int], edge_lines: int = 2) -> list[Span]:
    """Running headers and footers: lines among the first or last `edge_lines` of a page that
    recur (digits ignored, so "Page 3" matches "Page 4") on at least 30% of pages, and at least
    two."""
    if len(page_starts) < 2:
        return []
    bounds = [*page_starts[1:], len(text) + 2]
    edges: list[list[Span]] = []
    for start, next_start in zip(page_starts, bounds, strict=True):
        lines = [Span(m.start(), m.end()) for m in _LINE.finditer(text, start, next_start - 2)]
        if len(lines) > 2 * edge_lines:
            lines = lines[:edge_lines] + lines[-edge_lines:]
        edges.append(lines)

    def key(span: Span) -> str:
        return _DIGITS.sub("#", _normal(text[span.start : span.end]))

    pages_with = Counter(k for lines in edges for k in {key(s) for s in lines})
    needed = max(2, round(0.3 * len(page_starts)))
    common = {
        k for k, n in pages_with.items() if n >= needed and (len(k.strip("# ")) >= 3 or k == "#")
    }
    return [s for lines in edges for s in lines if key(s) in common]


def _blocks(text: str, markdown: bool, page_starts: Sequence[int]) -> Iterator[Span | None]:
    """Paragraphs in order, cut around boilerplate; None marks where boilerplate was dropped."""
    spans = paragraphs(text, markdown)
    skip = boilerplate_paragraphs(text, spans)
    furniture = sorted(page_furniture(text, page_starts), key=lambda s: s.start)
    cut_starts = [s.start for s in furniture]
    for i, para in enumerate(spans):
        if i in skip:
            yield None
            continue
        begin = para.start
        for j in range(bisect_left(cut_starts, para.start), len(furniture)):
            cut = furniture[j]
            if cut.start >= para.end:
                break
            piece = _trimmed(text, begin, cut.start)
            if piece:
                yield piece
            yield None
            begin = cut.end
        piece = _trimmed(text, begin, para.end)
        if piece:
            yield piece


def _split_long(text: str, span: Span, size: int, row: bool = False) -> list[Span]:
    """Cut an over-long sentence into pieces of at most `size` characters, preferring line
    breaks in the second half of a window, then spaces, then a hard cut. A table row is cut
    between cells first (each cell keeps its column name, see `chatbot.tables`)."""
    pieces: list[Span] = []
    begin = span.start
    while span.end - begin > size:
        cut = text.rfind(" | ", begin + 1, begin + size) if row else -1
        if cut <= begin:
            cut = text.rfind("\n", begin + size // 2, begin + size)
        if cut <= begin:
            cut = text.rfind(" ", begin + 1, begin + size)
        if cut <= begin:
            cut = begin + size
        piece = _trimmed(text, begin, cut)
        if piece:
            pieces.append(piece)
        begin = cut
        while begin < span.end and (text[begin].isspace() or (row and text[begin] == "|")):
            begin += 1
    if begin < span.end:
        pieces.append(Span(begin, span.end))
    return pieces


@dataclass
class _Group:
    """Units that may share a chunk; `table` is the index of the table they are rows of."""

    units: list[Span] = field(default_factory=list)
    table: int | None = None
    heading_only: bool = False


def _table_of(tables: Sequence[tuple[int, int]], starts: Sequence[int], offset: int) -> int | None:
    i = bisect_right(starts, offset) - 1
    return i if i >= 0 and offset < tables[i][1] else None


def _groups(
    text: str, page_starts: Sequence[int], markdown: bool, tables: Sequence[tuple[int, int]]
) -> list[_Group]:
    """Runs of sentence units that may share a chunk; boilerplate, page breaks and headings
    end a run (a heading directly after another heading stays with it). A table is a run of
    its own whose units are its lines, one per row (a heading just above it may join it)."""
    breaks = sorted(page_starts[1:])
    table_starts = [t[0] for t in tables]
    groups = [_Group()]
    for block in _blocks(text, markdown, page_starts):
        if block is None:
            groups.append(_Group())
            continue
        current = groups[-1]
        crosses_page = False
        if current.units:
            i = bisect_left(breaks, current.units[-1].end)
            crosses_page = i < len(breaks) and breaks[i] <= block.start
        table = _table_of(tables, table_starts, block.start)
        if table is not None:
            joins = current.table == table or current.heading_only or not current.units
            if crosses_page or not joins:
                groups.append(_Group())
            groups[-1].table, groups[-1].heading_only = table, False
            groups[-1].units.extend(Span(m.start(), m.end()) for m in
                                    _LINE.finditer(text, block.start, block.end))
            continue
        is_heading = markdown and _HEADING.match(text, block.start) is not None
        if crosses_page or current.table is not None or (
            is_heading and current.units and not current.heading_only
        ):
            groups.append(_Group())
        group = groups[-1]
        group.heading_only = is_heading and (not group.units or group.heading_only)
        group.units.extend(sentences(text, block))
    return [g for g in groups if g.units]


def split_text(
    text: str,
    source: str,
    chunk_size: int,
    chunk_overlap: int,
    *,
    markdown: bool = False,
    page_starts: Sequence[int] = (),
    tables: Sequence[tuple[int, int]] = (),
) -> list[Chunk]:
    """Pack sentences into chunks of at most `chunk_size` characters with sentence overlap.

    `page_starts[i]` is the offset where page i+1 begins; chunks never cross a page break.
    `tables` are the `(start, end)` spans of tables (rows, one per line): their chunks hold
    only whole rows of one table (a row longer than a chunk is cut between cells).
    """
    chunks: list[Chunk] = []
    starts = sorted(page_starts)
    for group in _groups(text, starts, markdown, sorted(tables)):
        units: list[Span] = []
        for unit in group.units:
            units.extend(_split_long(text, unit, chunk_size, row=group.table is not None))
        first = 0
        while first < len(units):
            last = first
            while last + 1 < len(units) and units[last + 1].end - units[first].start <= chunk_size:
                last += 1
            start, end = units[first].start, units[last].end
            page = bisect_right(starts, start) if starts else None
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


def mark_ocr(chunks: list[Chunk], ocr_pages: Sequence[int]) -> list[Chunk]:
    """Flag the chunks of pages whose text was read by OCR (chunks never cross a page)."""
    pages = set(ocr_pages)
    return [replace(c, ocr=True) if c.page in pages else c for c in chunks] if pages else chunks
