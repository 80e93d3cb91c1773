"""DOCX body -> Markdown lines and tables, read straight from the XML (python-docx's
`Paragraph.text` and `Paragraph.style` run XPath queries on every call: 95 % of the load time on
a file of 200k paragraphs). Text follows python-docx's rules: runs and hyperlinks, tabs, line
breaks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatbot.tables import Table


def heading_level(style: str) -> int:
    """Markdown heading level of a paragraph style name ("Title", "Heading 2"); 0 for text."""
    if style == "Title":
        return 1
    if style.startswith("Heading "):
        suffix = style.removeprefix("Heading ")
        return int(suffix) if suffix.isdigit() else 1
    return 0


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _TBL, _R, _LINK, _PPR = f"{_W}p", f"{_W}tbl", f"{_W}r", f"{_W}hyperlink", f"{_W}pPr"
_PSTYLE, _VAL, _BR, _TYPE = f"{_W}pStyle", f"{_W}val", f"{_W}br", f"{_W}type"
_TBL_HEADER = f"{_W}tblHeader"
#: What a run's children contribute to its text (as python-docx reads them).
_RUN_TEXT = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}


def _run_text(run: Any) -> str:
    parts = []
    for child in run:
        if child.tag == f"{_W}t":
            parts.append(child.text or "")
        elif child.tag == _BR:
            parts.append("\n" if child.get(_TYPE, "textWrapping") == "textWrapping" else "")
        else:
            parts.append(_RUN_TEXT.get(child.tag, ""))
    return "".join(parts)


def _paragraph(element: Any) -> tuple[str, str]:
    """(text, style id) of a `w:p`."""
    parts: list[str] = []
    style = ""
    for child in element:
        if child.tag == _R:
            parts.append(_run_text(child))
        elif child.tag == _LINK:
            parts.extend(_run_text(run) for run in child if run.tag == _R)
        elif child.tag == _PPR:
            found = child.find(_PSTYLE)
            style = found.get(_VAL, "") if found is not None else ""
    return "".join(parts), style


def _table(element: Any, document: Any) -> Table:
    """A `w:tbl` as rows of cell texts (a merged cell repeats in every column it spans, so
    columns stay aligned); leading rows marked to repeat on each page are its header."""
    from docx.table import Table as DocxTable

    rows = DocxTable(element, document._body).rows
    header_rows = 0
    for row in rows:
        props = row._tr.trPr
        if props is None or props.find(_TBL_HEADER) is None:
            break
        header_rows += 1
    cells = [[cell.text for cell in row.cells] for row in rows]
    return Table(cells, header_rows=header_rows or None)


def blocks(document: Any) -> Iterator[str | Table]:
    """One item per paragraph and table, in document order: a paragraph's line (headings as
    Markdown `#` lines), "" when it has no text, or the `Table` (see `chatbot.tables`)."""
    names = {s.style_id: s.name or "" for s in document.styles}
    for element in document.element.body.iterchildren(_P, _TBL):
        if element.tag == _TBL:
            yield _table(element, document)
            continue
        text, style = _paragraph(element)
        level = heading_level(names.get(style, ""))
        line = text.strip()
        yield f"{'#' * min(level, 6)} {line}" if level and line else line
