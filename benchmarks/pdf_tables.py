"""What reading PDF tables costs per page: `load_pdf` with and without the table step.

    .venv/bin/python benchmarks/pdf_tables.py [--pages 60] [--rounds 3] [PDF ...]

Generates two PDFs of `--pages` pages (text only; text plus a ruled 12-row table on every
page, written by tests/pdf_maker.py) and reads each, plus any PDF given, with
`chatbot.loaders.load_pdf` in this process: once as shipped and once with the table step
turned off, alternating for `--rounds` rounds, best round kept. Reports ms/page both ways,
how many pages passed the cheap ruling-line check (and went to pdfplumber), and how many
tables were found.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatbot import loaders, pdf_tables

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pdf_maker import Page, write_pdf  # noqa: E402

WORDS = ["river", "stone", "lantern", "orchard", "harbour", "meadow", "copper", "violin", "wheat"]


def _text_page(n: int, table: bool) -> Page:
    page = Page()
    for line in range(18 if table else 40):
        words = [WORDS[(n * 7 + line * 3 + i) % len(WORDS)] for i in range(12)]
        page.text(f"{' '.join(words).capitalize()} {n}.{line}.")
    if table:
        rows = [["Region", "Year", "Yield (t)", "Price"]]
        rows += [[f"Region {n}-{r}", str(2000 + r), str(100 + n + r), f"{r}.5"] for r in range(12)]
        page.table(rows)
    return page


def _no_tables(path: Path, reader: Any, pages: list[str], normalize: Any) -> Any:
    return pages, [[] for _ in pages]


def _time(read: Callable[[], loaders.LoadedDocument]) -> tuple[float, loaders.LoadedDocument]:
    start = time.perf_counter()
    document = read()
    return time.perf_counter() - start, document


def measure(path: Path, rounds: int) -> dict[str, Any]:
    from pypdf import PdfReader

    limits = loaders.LoadLimits()
    shipped = pdf_tables.with_tables
    with_s, without_s = [], []
    document = None
    for _ in range(rounds):
        seconds, document = _time(lambda: loaders.load_pdf(path, limits))
        with_s.append(seconds)
        pdf_tables.with_tables = _no_tables  # type: ignore[assignment]
        try:
            without_s.append(_time(lambda: loaders.load_pdf(path, limits))[0])
        finally:
            pdf_tables.with_tables = shipped  # type: ignore[assignment]
    reader = PdfReader(path)
    pages = len(reader.pages)
    checked = sum(pdf_tables._grid(reader, i) for i in range(pages))
    assert document is not None
    return {
        "file": path.name, "pages": pages, "grid_pages": checked,
        "tables": len(document.tables),
        "ms_per_page_with": round(1000 * min(with_s) / pages, 2),
        "ms_per_page_without": round(1000 * min(without_s) / pages, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="*", type=Path)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = [
            write_pdf(folder / "text-only.pdf", [_text_page(n, False) for n in range(args.pages)]),
            write_pdf(folder / "tables.pdf", [_text_page(n, True) for n in range(args.pages)]),
            *args.pdfs,
        ]
        print("file | pages | pages to pdfplumber | tables | ms/page with | ms/page without")
        for path in files:
            row = measure(path, args.rounds)
            print(" | ".join(str(v) for v in row.values()), flush=True)


if __name__ == "__main__":
    main()
