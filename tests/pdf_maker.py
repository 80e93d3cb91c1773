"""Tiny PDF writer for tests: pages of Helvetica text lines and ruled tables (no dependency;
pypdf reads the text, pdfplumber finds the tables by their ruling lines)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

WIDTH, HEIGHT, MARGIN, LEADING = 612, 792, 50, 16


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


@dataclass
class Page:
    """Drawn top to bottom: `text` lines and `table` grids, each below the last."""

    ops: list[str] = field(default_factory=list)
    y: float = HEIGHT - MARGIN

    def text(self, line: str, size: int = 10) -> Page:
        self.y -= LEADING
        self.ops.append(f"BT /F1 {size} Tf {MARGIN} {self.y:.1f} Td ({_escape(line)}) Tj ET")
        return self

    def table(self, rows: Sequence[Sequence[str]], col_width: float = 120) -> Page:
        """A grid with one ruled cell per value (lines, as most PDF writers draw them)."""
        self.y -= 8
        top, height = self.y, 18.0
        cols = max(len(r) for r in rows)
        right = MARGIN + cols * col_width
        bottom = top - height * len(rows)
        for r in range(len(rows) + 1):
            y = top - r * height
            self.ops.append(f"{MARGIN} {y:.1f} m {right:.1f} {y:.1f} l S")
        for c in range(cols + 1):
            x = MARGIN + c * col_width
            self.ops.append(f"{x:.1f} {top:.1f} m {x:.1f} {bottom:.1f} l S")
        for r, row in enumerate(rows):
            y = top - (r + 1) * height + 5
            for c, value in enumerate(row):
                x = MARGIN + c * col_width + 4
                self.ops.append(f"BT /F1 9 Tf {x:.1f} {y:.1f} Td ({_escape(value)}) Tj ET")
        self.y = bottom - 4
        return self


def write_pdf(path: Path, pages: Sequence[Page]) -> Path:
    """A valid PDF 1.4 file with an exact cross-reference table."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for page in pages:
        stream = "\n".join(page.ops).encode("latin-1", "replace")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (WIDTH, HEIGHT, content)
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref
    )
    path.write_bytes(bytes(out))
    return path
