"""OCR throughput: pages per second on generated scans, through the loader as ingest runs it.

    nice -n 10 .venv/bin/python benchmarks/ocr.py --pages 10

Draws the seed article's text into N white A4 images at 150 dpi (about 20 lines of 60
characters each, Pillow's bundled font at 32 px), puts them into one PDF without a text layer,
and loads it twice with `chatbot.loaders.load` (the loader's worker process, the OCR worker
it starts, rendering with pypdfium2 and rapidocr-onnxruntime), exactly as `chatbot ingest`
does. The first load pays the one-off start of the OCR worker and its models; the second
reuses them, as every later file of an ingest does. Reports both times, pages/s of the warm
load, and the share of the drawn words found again in the OCR text (word recall).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import textwrap
import time
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

from chatbot.loaders import LoadedDocument, LoadLimits, SkipFile, load
from chatbot.ocr import OcrLimits

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "xi-kazakhstan-visit.txt"
DPI = 150
LINES_PER_PAGE = 20


def page_texts(count: int) -> list[list[str]]:
    """`count` pages of wrapped seed text (the article is repeated when it runs out)."""
    words = SEED.read_text(encoding="utf-8").split()
    lines = textwrap.wrap(" ".join(words * (1 + count * LINES_PER_PAGE * 10 // len(words))), 60)
    return [lines[i * LINES_PER_PAGE : (i + 1) * LINES_PER_PAGE] for i in range(count)]


def scanned_pdf(path: Path, pages: list[list[str]]) -> None:
    font = ImageFont.load_default(size=32)
    pdf = pdfium.PdfDocument.new()
    for lines in pages:
        image = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(image)
        for n, text in enumerate(lines):
            draw.text((100, 120 + 70 * n), text, fill="black", font=font)
        width, height = image.width * 72 / DPI, image.height * 72 / DPI
        page = pdf.new_page(width, height)
        picture = pdfium.PdfImage.new(pdf)
        picture.set_bitmap(pdfium.PdfBitmap.from_pil(image))
        picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
        page.insert_obj(picture)
        page.gen_content()
    pdf.save(path)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def word_recall(drawn: list[list[str]], read: str) -> float:
    found = set(_words(read))
    wanted = [w for lines in drawn for w in _words(" ".join(lines))]
    return sum(w in found for w in wanted) / max(len(wanted), 1)


def timed_load(path: Path, limits: LoadLimits) -> tuple[LoadedDocument, float]:
    started = time.perf_counter()
    document = load(path, limits)
    return document, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    pages = page_texts(args.pages)
    limits = LoadLimits(
        seconds=3600.0, ocr=OcrLimits(max_pages=args.pages, page_seconds=600.0, file_seconds=3600)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scans.pdf"
        scanned_pdf(path, pages)
        with contextlib.suppress(SkipFile):  # start the loader's worker (no text without OCR)
            load(path, LoadLimits(ocr=OcrLimits(mode="off")))
        _, cold_s = timed_load(path, limits)
        document, warm_s = timed_load(path, limits)
    results = {
        "pages": args.pages,
        "ocr_pages": len(document.ocr_pages),
        "notes": document.notes,
        "first_load_s": round(cold_s, 2),
        "warm_load_s": round(warm_s, 2),
        "pages_per_s": round(args.pages / warm_s, 3),
        "s_per_page": round(warm_s / args.pages, 2),
        "word_recall": round(word_recall(pages, document.text), 4),
        "characters": len(document.text),
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
