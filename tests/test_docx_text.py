"""DOCX lines straight from the XML (chatbot/docx_text.py)."""

from __future__ import annotations

from pathlib import Path

import docx

from chatbot.docx_text import heading_level, lines


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
    got = list(lines(docx.Document(str(path))))
    assert got == ["# Plan", "ab\tc\nd", "", "x | 1", "", "# Tail"]
    # The same text python-docx gives, paragraph by paragraph.
    expected = [p.text.strip() for p in docx.Document(str(path)).paragraphs]
    assert [g.lstrip("# ") for g in got if g not in ("x | 1", "")] == [e for e in expected if e]


def test_heading_level() -> None:
    assert [heading_level(s) for s in ("Title", "Heading 3", "Heading x", "Normal", "")] == [
        1, 3, 1, 0, 0
    ]
