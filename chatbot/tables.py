"""Tables -> text that keeps every row with its column names, plus where the tables are.

A table's cells lose their meaning once their column is gone ("225" of what?), and a chunk of
rows cut off from the header row is exactly that. So every row becomes one line that names its
columns ("Country: Kazakhstan | Year: 2022 | GDP: 225"), under an optional caption line. A row
then never depends on a header elsewhere in the text, whatever the chunk size, and the splitter
only has to keep rows whole and cut between them (`chatbot.splitting` gets the table spans).

The rendered lines are part of the document text the loader produces (citations stay exact);
`Assembler` joins text blocks and tables the way `loaders.normalize` would and records each
table's span. Loaders: DOCX (`docx_text`), HTML (trafilatura's Markdown tables, parsed here),
PDF (`pdf_tables`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

#: A cell that is a number (a year, an amount, a percentage): never a column name.
_NUMBER = re.compile(r"[-+−±(]?[$€£¥]?\d[\d,.\s]*(?:%|[kKmMbB]n?)?\)?")
#: A header cell longer than this reads as data (a sentence), not a column name.
_MAX_NAME = 60


@dataclass(frozen=True)
class Table:
    """Cells by row (already plain text); `header_rows` is how many leading rows are column
    names when the source says so (HTML `<th>`, DOCX repeated header rows), None to guess."""

    rows: list[list[str]]
    header_rows: int | None = None
    caption: str = ""


def clean(cell: str | None) -> str:
    """A cell's text on one line ("|" would read as a cell boundary, so it becomes "/")."""
    return " ".join((cell or "").replace("|", "/").split())


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.fullmatch(cell))


def _looks_like_header(rows: Sequence[Sequence[str]]) -> bool:
    """Guess whether the first row names the columns (no markup says so). Yes when its corner
    cell is empty and the rest are filled (a cross table), or when it is short distinct text
    over a column of numbers, or over three or more columns of anything."""
    first, body = rows[0], rows[1:]
    filled = [c for c in first if c]
    if not body or len(filled) < 2 or len(set(filled)) < len(filled):
        return False
    if any(len(c) > _MAX_NAME for c in filled):
        return False
    if not first[0] and all(first[1:]):
        return True
    if any(_is_number(c) for c in filled):
        return False
    for col, name in enumerate(first):
        values = [r[col] for r in body if col < len(r) and r[col]]
        if name and values and sum(map(_is_number, values)) * 2 >= len(values):
            return True
    return len(first) >= 3


def _column_names(header: Sequence[Sequence[str]], width: int) -> list[str]:
    """One name per column; several header rows join their distinct parts ("GDP 2022")."""
    names = []
    for col in range(width):
        parts: list[str] = []
        for row in header:
            cell = row[col] if col < len(row) else ""
            if cell and cell not in parts:
                parts.append(cell)
        names.append(" ".join(parts))
    return names


def row_line(names: Sequence[str], cells: Sequence[str]) -> str:
    """"Name: value | Name: value"; empty cells are left out, unnamed cells stand alone, and a
    merged cell repeated across columns of one name (or none) appears once."""
    parts: list[str] = []
    previous = None
    for col, cell in enumerate(cells):
        name = names[col] if col < len(names) else ""
        if not cell or (cell, name) == previous:
            continue
        previous = (cell, name)
        parts.append(f"{name}: {cell}" if name and name != cell else cell)
    return " | ".join(parts)


def _caption_row(row: Sequence[str]) -> str | None:
    """The text of a row that holds only a title (one value, maybe merged across the row,
    over a wider table)."""
    filled = {c for c in row if c}
    return filled.pop() if len(filled) == 1 and len(row) > 1 else None


def render(table: Table) -> tuple[list[str], bool]:
    """The table's lines (caption first) and whether they form a table; a table of a single
    column is just its cells, one line each (`False`)."""
    rows = [[clean(c) for c in row] for row in table.rows]
    rows = [r for r in rows if any(r)]
    caption = clean(table.caption)
    explicit = table.header_rows
    if len(rows) > 1 and (title := _caption_row(rows[0])):
        caption, rows = caption or title, rows[1:]
        if explicit:  # the title was the only marked row: guess the header below it
            explicit = explicit - 1 or None
    width = max((len(r) for r in rows), default=0)
    if width < 2:
        return [line for line in [caption, *(r[0] for r in rows if r)] if line], False
    if explicit is None:
        explicit = 1 if _looks_like_header(rows) else 0
    explicit = min(explicit, len(rows) - 1) if len(rows) > 1 else 0
    names = _column_names(rows[:explicit], width)
    body = rows[explicit:] if explicit else rows
    lines = [line for r in body if (line := row_line(names, r))]
    if not explicit and not lines:
        return [caption] if caption else [], False
    return ([caption] if caption else []) + lines, True


@dataclass
class Assembler:
    """Joins blocks into normalised document text, blank line between blocks, recording the
    span of every table. Each block is normalised on its own (`normalize` is the loader's), so
    the joined text is what normalising the whole would give, and spans stay exact."""

    normalize: Callable[[str], str]
    parts: list[str] = field(default_factory=list)
    tables: list[tuple[int, int]] = field(default_factory=list)
    length: int = 0

    def _add(self, text: str) -> tuple[int, int] | None:
        body = self.normalize(text)
        if not body:
            return None
        start = self.length + (2 if self.parts else 0)
        self.parts.append(body)
        self.length = start + len(body)
        return start, self.length

    def text(self, text: str) -> None:
        self._add(text)

    def table(self, table: Table) -> None:
        lines, is_table = render(table)
        if not is_table:
            for line in lines:
                self._add(line)
            return
        span = self._add("\n".join(lines))
        if span:
            self.tables.append(span)

    def result(self) -> tuple[str, list[tuple[int, int]]]:
        return "\n\n".join(self.parts), list(self.tables)


# --- trafilatura's Markdown tables ------------------------------------------------------------
_ROW = re.compile(r"\|.*\|")
_SEPARATOR = re.compile(r"\|(?:\s*:?-{3,}:?\s*\|)+")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
#: trafilatura escapes these in text; unescaped, they are its emphasis (`**b**`, `*i*`).
_ESCAPED = re.compile(r"\\([*_|])")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(\S(?:.*?\S)?)\1")
#: Stand-ins for escaped characters while emphasis is removed (private use code points).
_HIDE = {"*": "\ue000", "_": "\ue001", "|": "\ue002"}
_SHOW = str.maketrans({v: k for k, v in _HIDE.items()})


def _markdown_cells(line: str) -> list[str]:
    """The cells of a `| a | b |` line as plain text: emphasis dropped, escapes undone."""
    inner = _ESCAPED.sub(lambda m: _HIDE[m.group(1)], line.strip()[1:-1])
    cells = [_EMPHASIS.sub(r"\2", c.strip()) for c in inner.split("|")]
    return [c.translate(_SHOW) for c in cells]


def _markdown_table(lines: Sequence[str]) -> Table:
    """A run of `| a | b |` lines; a row followed by a `|---|` line is a header row."""
    rows: list[list[str]] = []
    header_rows = 0
    for i, line in enumerate(lines):
        if _SEPARATOR.fullmatch(line.strip()):
            continue
        rows.append(_markdown_cells(line))
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _SEPARATOR.fullmatch(following) and len(rows) == header_rows + 1:
            header_rows += 1
    return Table(rows, header_rows=header_rows or None)


def markdown_blocks(text: str) -> Iterator[str | Table]:
    """Markdown text cut into text and tables (runs of lines that start and end with "|")."""
    lines = text.split("\n")
    i = 0
    plain: list[str] = []
    while i < len(lines):
        if _ROW.fullmatch(lines[i].strip()) and not _SEPARATOR.fullmatch(lines[i].strip()):
            j = i
            while j < len(lines) and _ROW.fullmatch(lines[j].strip()):
                j += 1
            if plain:
                yield "\n".join(plain)
                plain = []
            yield _markdown_table(lines[i:j])
            i = j
            continue
        plain.append(lines[i])
        i += 1
    if plain:
        yield "\n".join(plain)


def assemble_markdown(
    text: str, normalize: Callable[[str], str]
) -> tuple[str, list[tuple[int, int]]]:
    """Markdown with pipe tables -> text whose tables are rows with column names, and spans."""
    out = Assembler(normalize)
    for block in markdown_blocks(text):
        if isinstance(block, Table):
            out.table(block)
        else:
            out.text(block)
    return out.result()
