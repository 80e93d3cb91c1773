"""PDFs with a real text layer and exact character boxes, written by pypdfium2: one text
object per line in Helvetica, so pypdf extracts them and pdfium knows each character's box.
(tests/pdf_maker.py writes ruled tables instead.)"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as raw

WIDTH, HEIGHT = 612.0, 792.0  # US Letter, points
LEFT, TOP = 72.0, 72.0
FONT_SIZE = 12.0
LEADING = 18.0


def line_baseline(line: int) -> float:
    """The baseline of line `line` (0-based), in PDF coordinates (origin bottom-left)."""
    return HEIGHT - TOP - line * LEADING


def make_pdf(path: Path, pages: Sequence[Sequence[str]]) -> Path:
    """A PDF whose page i shows `pages[i]`, one string per line (an empty page has no text
    layer at all, like a scanned one)."""
    document = pdfium.PdfDocument.new()
    for lines in pages:
        page = document.new_page(WIDTH, HEIGHT)
        for n, line in enumerate(lines):
            text = raw.FPDFPageObj_NewTextObj(document.raw, b"Helvetica", FONT_SIZE)
            encoded = ctypes.create_string_buffer((line + "\0").encode("utf-16-le"))
            raw.FPDFText_SetText(text, ctypes.cast(encoded, ctypes.POINTER(raw.FPDF_WCHAR)))
            raw.FPDFPageObj_Transform(text, 1, 0, 0, 1, LEFT, line_baseline(n))
            raw.FPDFPage_InsertObject(page.raw, text)
        page.gen_content()
        page.close()
    document.save(str(path))
    document.close()
    return path
