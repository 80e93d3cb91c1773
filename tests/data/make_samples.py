"""Regenerate the sample documents in tests/data/ingest/ (run once; the outputs are committed).

`.venv/bin/python tests/data/make_samples.py` — pypdf writes the PDF from raw text operators
(no extra dependency), python-docx writes the Word file.
"""

from __future__ import annotations

import io
from pathlib import Path

import docx
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, StreamObject

HERE = Path(__file__).resolve().parent / "ingest"

PDF_PAGES = [
    [
        "ACME Quarterly Report",
        "Revenue of the lighthouse division grew by nine percent in the spring quarter.",
        "The growth came from new harbour contracts in the northern region.",
        "Page 1",
    ],
    [
        "ACME Quarterly Report",
        "The submarine cable project was delayed by a storm in the second month.",
        "Engineers expect the cable to be finished before the winter holidays.",
        "Page 2",
    ],
    [
        "ACME Quarterly Report",
        "Staff turnover fell to four percent after the new mentoring programme began.",
        "Page 3",
    ],
]


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A text PDF with one Helvetica line per string."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        ops = ["BT", "/F1 11 Tf", "16 TL", "56 740 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = StreamObject()
        stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write_docx(path: Path) -> None:
    document = docx.Document()
    document.add_heading("Orchard Memo", 0)
    document.add_heading("Harvest", 1)
    document.add_paragraph(
        "The quince harvest started early this year because of the warm September."
    )
    document.add_paragraph("Pickers reported that the northern rows ripened first.")
    document.add_heading("Storage", 1)
    document.add_paragraph("Cold storage keeps the quinces firm for about three months.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Variety"
    table.cell(0, 1).text = "Crates"
    table.cell(1, 0).text = "Smyrna"
    table.cell(1, 1).text = "412"
    document.save(str(path))


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    (HERE / "report.pdf").write_bytes(pdf_bytes(PDF_PAGES))
    write_docx(HERE / "memo.docx")


if __name__ == "__main__":
    main()
