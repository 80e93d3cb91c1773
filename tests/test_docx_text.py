"""DOCX lines and tables straight from the XML (chatbot/docx_text.py)."""

from __future__ import annotations

from pathlib import Path

import docx

from chatbot.docx_text import blocks, heading_level
from chatbot.tables import Table


def test_lines_keep_headings_tabs_breaks_links_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Plan", level=1)
    paragraph = document.add_paragraph("a")
    run = paragraph.add_run("b")
    run.add_tab()
    run.add_text("c")
    run.add_break()
    run.add_text("d")
    document.add_paragraph("")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "x", "1"
    document.add_paragraph("Tail", style="Title")
    path = tmp_path / "t.docx"
    document.save(str(path))
    got = list(blocks(docx.Document(str(path))))
    assert got == ["# Plan", "ab\tc\nd", "", Table([["x", "1"], ["", ""]]), "# Tail"]
    # The same text python-docx gives, paragraph by paragraph.
    expected = [p.text.strip() for p in docx.Document(str(path)).paragraphs]
    assert [g.lstrip("# ") for g in got if isinstance(g, str) and g] == [e for e in expected if e]


def test_repeated_header_rows_are_the_table_header(tmp_path: Path) -> None:
    from docx.oxml import OxmlElement

    document = docx.Document()
    table = document.add_table(rows=3, cols=2)
    for r, row in enumerate([("Name", "Age"), ("Ann", "4"), ("Bob", "5")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    path = tmp_path / "h.docx"
    document.save(str(path))
    (got,) = [b for b in blocks(docx.Document(str(path))) if isinstance(b, Table)]
    assert got == Table([["Name", "Age"], ["Ann", "4"], ["Bob", "5"]], header_rows=1)


def test_heading_level() -> None:
    assert [heading_level(s) for s in ("Title", "Heading 3", "Heading x", "Normal", "")] == [
        1, 3, 1, 0, 0
    ]
