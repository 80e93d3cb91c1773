"""Tables on PDF pages (pdfplumber) -> the page's text with each table as rows that name their
columns (`chatbot.tables`).

pdfplumber lays out every character of a page, which costs far more than pypdf's text
extraction, and its table finder (the default "lines" strategy) only finds tables drawn with
ruling lines or cell boxes. So a page goes to pdfplumber only when its content stream draws
straight edges on enough distinct rows and columns to make a grid (`draws_grid`, a byte
scan); every other page keeps pypdf's text, and a text-only PDF never opens pdfplumber. On
a page with tables, the text around them is pdfplumber's, in bands above, between and below
the tables, so no cell is read twice. Any failure of the table finder keeps pypdf's text for
that page.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from chatbot.tables import Assembler, Table

log = logging.getLogger(__name__)

#: The operators that place straight edges: `q`/`Q` (save/restore the graphics state),
#: `a b c d e f cm` (transform), `x y m` (move), `x y l` (line to), `x y w h re` (rectangle).
#: Their operands are the numbers just before them; text and curves are never read.
_OPS = re.compile(rb"(?<=\s)(cm|re|[mlqQ])(?=\s|$)")
_ARITY = {b"cm": 6, b"re": 4, b"m": 2, b"l": 2, b"q": 0, b"Q": 0}
#: Rectangles thinner than this (points) are rules, not cells; shorter edges are dots.
_RULE = 5.0
#: Edge positions closer than this (points) are the same line.
_SNAP = 2.0
#: The fewest distinct horizontal and vertical lines of a grid worth reading (2 x 2 cells).
MIN_LINES = 3

Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _concat(m: Matrix, ctm: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = ctm
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _apply(ctm: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = ctm
    return a * x + c * y + e, b * x + d * y + f


class _Lines:
    """Distinct positions of the horizontal (by y) and vertical (by x) edges drawn."""

    def __init__(self) -> None:
        self.rows: set[int] = set()
        self.cols: set[int] = set()

    def segment(self, p: tuple[float, float], q: tuple[float, float]) -> None:
        dx, dy = abs(q[0] - p[0]), abs(q[1] - p[1])
        if dx > _RULE and dy < _SNAP:
            self.rows.add(round(p[1] / _SNAP))
        elif dy > _RULE and dx < _SNAP:
            self.cols.add(round(p[0] / _SNAP))

    def grid(self) -> bool:
        return min(len(self.rows), len(self.cols)) >= MIN_LINES


def _operands(data: bytes, end: int, count: int) -> list[float] | None:
    """The `count` numbers just before offset `end`, or None when they are not numbers."""
    words = data[max(0, end - 16 * count - 16) : end].split()[-count:]
    try:
        values = [float(w) for w in words]
    except ValueError:
        return None
    return values if len(values) == count else None


def _scan(data: bytes, lines: _Lines) -> None:
    """Follow the transformations and record every straight edge `data` draws."""
    ctm, stack = _IDENTITY, []
    point = (0.0, 0.0)
    for match in _OPS.finditer(data):
        op = match.group(1)
        if op == b"q":
            stack.append(ctm)
            continue
        if op == b"Q":
            ctm = stack.pop() if stack else ctm
            continue
        v = _operands(data, match.start(), _ARITY[op])
        if v is None:
            continue
        if op == b"cm":
            ctm = _concat((v[0], v[1], v[2], v[3], v[4], v[5]), ctm)
        elif op == b"re":
            x, y, w, h = v
            corners = [_apply(ctm, *xy) for xy in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]
            if min(abs(w), abs(h)) <= _RULE:  # a thick rule: one line, along its length
                lines.segment(corners[0], corners[1] if abs(w) > abs(h) else corners[3])
                continue
            for i in range(4):
                lines.segment(corners[i], corners[(i + 1) % 4])
        else:
            target = _apply(ctm, v[0], v[1])
            if op == b"l":
                lines.segment(point, target)
            point = target


def _streams(page: Any) -> Iterator[bytes]:
    """The page's content bytes and those of the form XObjects it draws (one level)."""
    contents = page.get_contents()
    if contents is not None:
        yield contents.get_data()
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources else None
    for ref in (xobjects.get_object().values() if xobjects else []):
        xobject = ref.get_object()
        if xobject.get("/Subtype") == "/Form":
            yield xobject.get_data()


def draws_grid(page: Any) -> bool:
    """Whether a pypdf page draws straight edges on at least `MIN_LINES` distinct rows and as
    many columns: what pdfplumber's finder needs to see a table (a byte scan, no layout)."""
    lines = _Lines()
    for data in _streams(page):
        _scan(data, lines)
        if lines.grid():
            return True
    return False


def _usable(rows: Sequence[Sequence[str | None]]) -> bool:
    """At least two rows and a row with two filled cells: not a framed paragraph."""
    filled = [sum(1 for c in row if c and c.strip()) for row in rows]
    return len([n for n in filled if n]) >= 2 and max(filled, default=0) >= 2


def _page_blocks(page: Any) -> list[str | Table] | None:
    """A pdfplumber page as text bands and tables, top to bottom; None without tables."""
    found = []
    for table in page.find_tables():
        rows = table.extract()
        if _usable(rows):
            found.append((table.bbox, rows))
    if not found:
        return None
    found.sort(key=lambda item: item[0][1])
    boxes = [bbox for bbox, _ in found]

    def outside(obj: dict[str, Any]) -> bool:
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    text = page.filter(outside)
    blocks: list[str | Table] = []
    top = float("-inf")
    for (_, t_top, _, t_bottom), rows in [*found, ((0, float("inf"), 0, 0), None)]:
        lo, hi = top, t_top
        band = text.filter(lambda o, lo=lo, hi=hi: lo <= (o["top"] + o["bottom"]) / 2 < hi)
        blocks.append(band.extract_text() or "")
        if rows is not None:
            blocks.append(Table([list(r) for r in rows]))
        top = t_bottom
    return blocks


def with_tables(
    path: Path,
    reader: Any,
    pages: list[str],
    normalize: Callable[[str], str],
    budget: float = float("inf"),
) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """`pages` with each page that holds ruled tables rewritten (already normalised) and the
    table spans of each page, relative to the page's text. Once the table finder has used
    `budget` seconds, the remaining pages keep pypdf's text (a file of thousands of ruled
    pages must still load within its time limit)."""
    spans: list[list[tuple[int, int]]] = [[] for _ in pages]
    candidates = [i for i, text in enumerate(pages) if text.strip() and _grid(reader, i)]
    if not candidates:
        return pages, spans
    import pdfplumber

    out = list(pages)
    with contextlib.ExitStack() as stack:
        try:
            pdf = stack.enter_context(pdfplumber.open(path))
        except Exception as exc:  # pypdf read it; keep its text
            log.debug("pdfplumber cannot open %s: %s", path, exc)
            return pages, spans
        deadline = time.monotonic() + budget
        for i in candidates:
            if time.monotonic() > deadline:
                log.info("tables not read past page %d of %s (time budget)", i, path)
                break
            try:
                blocks = _page_blocks(pdf.pages[i])
            except Exception as exc:  # the table finder's failure costs only the tables
                log.debug("no tables read on page %d of %s: %s", i + 1, path, exc)
                continue
            if blocks is None:
                continue
            page = Assembler(normalize)
            for block in blocks:
                if isinstance(block, Table):
                    page.table(block)
                else:
                    page.text(block)
            out[i], spans[i] = page.result()
            pdf.pages[i].close()  # drop the page's cached layout
    return out, spans


def _grid(reader: Any, index: int) -> bool:
    try:
        return draws_grid(reader.pages[index])
    except Exception:  # an odd content stream: no tables, pypdf's text stays
        return False


def document_spans(
    text: str, page_starts: Sequence[int], page_spans: Sequence[Sequence[tuple[int, int]]]
) -> list[tuple[int, int]]:
    """Page-relative table spans as document offsets (only spans that still hold a table)."""
    out = []
    for start, spans in zip(page_starts, page_spans, strict=False):
        for a, b in spans:
            if text[start + a : start + b].strip():
                out.append((start + a, start + b))
    return out
