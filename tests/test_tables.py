"""Tables -> rows that name their columns (chatbot/tables.py, chatbot/pdf_tables.py), in every
format, chunked whole, and answered with a citation of the row."""

from __future__ import annotations

import sys
from pathlib import Path

import docx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pdf_maker import Page, write_pdf
from pypdf import PdfReader

from chatbot import pdf_tables
from chatbot.answer import ask
from chatbot.config import Settings
from chatbot.loaders import LoadedDocument, LoadLimits, load, load_pdf, normalize
from chatbot.pipeline import Pipeline
from chatbot.tables import Assembler, Table, markdown_blocks, render, row_line

GDP = [
    ["Country", "Year", "GDP (bn USD)"],
    ["Kazakhstan", "2022", "225"],
    ["Uzbekistan", "2022", "80"],
    ["Kyrgyzstan", "2022", "12"],
]
ROWS = [
    "Country: Kazakhstan | Year: 2022 | GDP (bn USD): 225",
    "Country: Uzbekistan | Year: 2022 | GDP (bn USD): 80",
    "Country: Kyrgyzstan | Year: 2022 | GDP (bn USD): 12",
]
LIMITS = LoadLimits()


def _table_text(document: LoadedDocument) -> list[str]:
    return [document.text[a:b] for a, b in document.tables]


# --- rendering ----------------------------------------------------------------------------------
def test_rows_name_their_columns_and_the_header_is_guessed_over_numbers() -> None:
    assert render(Table(GDP)) == (ROWS, True)
    # Said by the source: a first row of text over text is the header too.
    names = Table([["Name", "Role"], ["Ann", "Chair"]], header_rows=1)
    assert render(names) == (["Name: Ann | Role: Chair"], True)


def test_a_two_column_list_of_facts_has_no_header() -> None:
    facts = Table([["Capital", "Astana"], ["Currency", "Tenge"]])
    assert render(facts) == (["Capital | Astana", "Currency | Tenge"], True)


def test_a_cross_table_names_rows_by_their_first_cell() -> None:
    cross = Table([["", "2021", "2022"], ["Kazakhstan", "190", "225"], ["Uzbekistan", "", "80"]])
    assert render(cross) == (["Kazakhstan | 2021: 190 | 2022: 225", "Uzbekistan | 2022: 80"], True)


def test_caption_rows_merged_cells_and_two_header_rows() -> None:
    table = Table(
        [["GDP by country", "", ""], ["Country", "GDP", "GDP"], ["", "2021", "2022"],
         ["Kazakhstan", "190", "225"]],
        header_rows=3,
    )
    assert render(table) == (
        ["GDP by country", "Country: Kazakhstan | GDP 2021: 190 | GDP 2022: 225"], True
    )
    # A merged cell repeats in each column it spans (DOCX): once per column name.
    assert row_line(["A", "A", "C"], ["x", "x", "y|z"]) == "A: x | C: y|z"
    assert row_line(["A", "B"], ["x", "x"]) == "A: x | B: x"
    merged_title = Table([["Rainfall", "Rainfall"], ["Aral", "131"], ["Balkhash", "178"]])
    assert render(merged_title) == (["Rainfall", "Aral | 131", "Balkhash | 178"], True)


def test_a_single_column_is_plain_lines_not_a_table() -> None:
    assert render(Table([["Steps"], ["Mix"], ["Bake"]])) == (["Steps", "Mix", "Bake"], False)
    out = Assembler(normalize)
    out.table(Table([["Steps"], ["Mix"]]))
    assert out.result() == ("Steps\n\nMix", [])


# --- trafilatura's Markdown tables: a parser, so a property -------------------------------------
_CELL = st.text(
    st.characters(codec="ascii", categories=["L", "N", "P", "Zs"], exclude_characters="\\"),
    max_size=12,
)


def _markdown(rows: list[list[str]], header: bool, bold: bool) -> str:
    """A table as trafilatura writes it: `| a | b | ` lines, `*`, `_` and `|` escaped, bold
    text in `**`."""
    def cell(text: str) -> str:
        for char in "*_|":
            text = text.replace(char, "\\" + char)
        return f"**{text}**" if bold and text.strip() and text == text.strip() else text

    lines = ["| " + " | ".join(cell(c) for c in row) + " | " for row in rows]
    if header:
        lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda width: st.lists(st.lists(_CELL, min_size=width, max_size=width), min_size=1,
                               max_size=6)
    ),
    st.booleans(),
    st.booleans(),
)
def test_markdown_tables_parse_back_to_their_cells(
    rows: list[list[str]], header: bool, bold: bool
) -> None:
    text = f"Intro.\n\n{_markdown(rows, header, bold)}\n\nOutro."
    blocks = list(markdown_blocks(text))
    assert blocks[0] == "Intro.\n" and blocks[-1] == "\nOutro."
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert table.rows == [[c.strip() for c in row] for row in rows]
    assert table.header_rows == (1 if header else None)


# --- the three formats ----------------------------------------------------------------------------
def test_html_table_rows_keep_their_headers_and_caption(tmp_path: Path) -> None:
    body = "".join(f"<tr><td>{'</td><td>'.join(r)}</td></tr>" for r in GDP[1:])
    path = tmp_path / "gdp.html"
    path.write_text(
        "<html><body><article><h1>Central Asia</h1><p>The economies of Central Asia grew "
        "quickly after 2020, led by exports of oil, gas and metals.</p><table><caption>GDP by "
        f"country</caption><tr><th>{'</th><th>'.join(GDP[0])}</th></tr>{body}</table><p>The "
        "figures are nominal and come from national statistics offices.</p></article></body>"
        "</html>"
    )
    document = load(path, LIMITS)
    assert _table_text(document) == ["\n".join(["GDP by country", *ROWS])]
    assert "grew quickly" in document.text and "national statistics" in document.text
    assert normalize(document.text) == document.text


def test_docx_table_rows_keep_their_headers(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Growth was strong across the region.")
    table = document.add_table(rows=len(GDP), cols=3)
    for r, row in enumerate(GDP):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("After the table.")
    path = tmp_path / "gdp.docx"
    document.save(str(path))
    loaded = load(path, LIMITS)
    assert _table_text(loaded) == ["\n".join(ROWS)]
    assert loaded.text == "\n\n".join(["Growth was strong across the region.", *_table_text(loaded),
                                       "After the table."])


def gdp_pdf(path: Path) -> Path:
    first = Page().text("Central Asia economic report.").text("GDP by country").table(GDP)
    first.text("The figures are nominal.")
    return write_pdf(path, [first, Page().text("A second page of plain text.")])


def test_pdf_table_rows_keep_their_headers_on_their_page(tmp_path: Path) -> None:
    document = load(gdp_pdf(tmp_path / "gdp.pdf"), LIMITS)
    assert _table_text(document) == ["\n".join(ROWS)]
    assert document.text.count("Kazakhstan") == 1  # the cells are not read twice
    (start, _), second = document.tables[0], document.page_starts[1]
    assert start < second and "second page" in document.text[second:]
    assert "GDP by country" in document.text[:start] and "nominal" in document.text[:second]


def test_text_pages_never_open_pdfplumber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The byte scan keeps pages without ruling lines (and framed boxes) away from pdfplumber."""
    framed = Page().text("A framed note.")
    framed.ops.append("q 1 0 0 1 50 600 cm 0 0 400 80 re S Q")  # one box: no grid
    framed.ops.append("0 0 m 3 0 l S 1 0 0 1 0 -12 cm 0 0 m 400 0 l S")  # a dot and a rule
    path = write_pdf(tmp_path / "text.pdf", [Page().text("Only words here."), framed])
    assert not any(pdf_tables.draws_grid(p) for p in PdfReader(path).pages)
    monkeypatch.setitem(sys.modules, "pdfplumber", None)  # importing it would fail
    assert load_pdf(path, LIMITS).text == "Only words here.\n\nA framed note."
    assert pdf_tables.draws_grid(PdfReader(gdp_pdf(tmp_path / "gdp.pdf")).pages[0])


def test_grid_drawn_by_translated_cells_is_seen(tmp_path: Path) -> None:
    """Writers that move the origin before every cell box (`cm`) still draw a grid."""
    page = Page().text("Cells drawn one by one.")
    for r in range(3):
        for c in range(2):
            page.ops.append(f"q 1 0 0 1 {50 + 100 * c} {600 - 20 * r} cm 0 0 100 20 re S Q")
    assert pdf_tables.draws_grid(PdfReader(write_pdf(tmp_path / "c.pdf", [page])).pages[0])


def test_past_its_time_budget_the_table_finder_stops(tmp_path: Path) -> None:
    path = gdp_pdf(tmp_path / "gdp.pdf")
    reader = PdfReader(path)
    pages = [p.extract_text() for p in reader.pages]
    kept, spans = pdf_tables.with_tables(path, reader, pages, normalize, budget=-1.0)
    assert (kept, spans) == (pages, [[], []])
    assert pdf_tables.with_tables(path, reader, pages, normalize)[1][0]


def test_a_table_finder_failure_keeps_the_page_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(page: object) -> None:
        raise ValueError("no tables today")

    monkeypatch.setattr(pdf_tables, "_page_blocks", broken)
    document = load_pdf(gdp_pdf(tmp_path / "gdp.pdf"), LIMITS)  # in this process
    assert document.tables == [] and "Kazakhstan" in document.text


# --- a question about one cell --------------------------------------------------------------------
def _long_table(rows: int) -> list[list[str]]:
    return [["Station", "Month", "Rainfall (mm)"]] + [
        [f"Station {chr(65 + i % 26)}{i}", f"Month {i % 12 + 1}", str(40 + 7 * i)]
        for i in range(rows)
    ]


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".html"])
def test_a_question_about_one_cell_is_answered_and_cited(
    fake_settings: Settings, tmp_path: Path, suffix: str
) -> None:
    table = _long_table(30)
    path = tmp_path / "docs" / f"rain{suffix}"
    path.parent.mkdir()
    if suffix == ".pdf":
        pages = [Page().text("Rainfall report.").table(table[:16], col_width=150),
                 Page().table([table[0], *table[16:]], col_width=150)]
        write_pdf(path, pages)
    elif suffix == ".docx":
        document = docx.Document()
        document.add_paragraph("Rainfall report.")
        grid = document.add_table(rows=len(table), cols=3)
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
        document.save(str(path))
    else:
        head = "".join(f"<th>{v}</th>" for v in table[0])
        body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in table[1:])
        path.write_text(f"<html><body><article><p>Rainfall report of the stations over one "
                        f"year, as measured by the survey.</p><table><tr>{head}</tr>{body}"
                        "</table></article></body></html>")
    pipeline = Pipeline.build(fake_settings.model_copy(update={"chunk_size": 300}))
    pipeline.index.ingest([path.parent])
    row = "Station: Station X23 | Month: Month 12 | Rainfall (mm): 201"
    answer = ask(pipeline, "What rainfall did Station X23 measure?")
    assert not answer.abstained, answer.notes
    assert "201" in answer.answer
    cited = [c for c in answer.citations if row in c.text]
    assert cited, answer.citations
    text = pipeline.index.document_text(f"docs/rain{suffix}")
    assert text is not None
    for citation in cited:
        assert text[citation.start : citation.end] == citation.text
        assert citation.support_start is not None and citation.support_end is not None
        assert text[citation.support_start : citation.support_end] == row


@pytest.mark.slow
def test_the_embedded_model_answers_about_one_cell_and_cites_its_row(tmp_path: Path) -> None:
    """The real MiniLM embeddings and GGUF model on a small generated PDF table."""
    table = [
        ["Station", "Altitude (m)", "Rainfall (mm)"],
        ["Aral", "53", "131"],
        ["Turkestan", "207", "204"],
        ["Balkhash", "342", "178"],
        ["Zhezkazgan", "346", "152"],
        ["Shymkent", "512", "598"],
    ]
    docs = tmp_path / "docs"
    docs.mkdir()
    page = Page().text("Annual rainfall at five weather stations in Kazakhstan, 2022.")
    write_pdf(docs / "rain.pdf", [page.table(table, col_width=150)])
    settings = Settings(
        llm_provider="local", embeddings_provider="local", data_dir=tmp_path / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    pipeline = Pipeline.build(settings)
    pipeline.index.ingest([docs])
    answer = ask(pipeline, "How much rainfall did the Balkhash station get in 2022?")
    assert not answer.abstained, answer.notes
    assert "178" in answer.answer, answer.answer
    row = "Station: Balkhash | Altitude (m): 342 | Rainfall (mm): 178"
    assert any(row in c.text for c in answer.citations), answer.citations
