"""Where a PDF page's characters are drawn, and the page rendered with highlight boxes.

A `BoxProvider` gives a page's characters with their boxes, in PDF points from the top-left
corner of the displayed page. Two exist: the PDF's own text layer (pypdfium2), and OCR lines
for scanned pages (`OcrBoxes` adapts `ocr_page_lines(pdf_path, page_number, settings)`, whose
lines carry one box each). `page_chars` asks them in turn, so a page without a text layer
falls through to OCR.
"""

from __future__ import annotations

import ctypes
import importlib
import io
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chatbot.config import Settings
from chatbot.errors import ChatbotError
from chatbot.highlight import Box, PageChar, highlight

#: Pixels per point of the rendered page (2 = 144 dpi: small print stays legible).
RENDER_SCALE = 2.0
#: The most pixels a rendered page may have (about 3,000 x 3,000).
MAX_PIXELS = 9_000_000
#: Translucent yellow (RGBA) laid over the supporting sentence.
HIGHLIGHT_RGBA = (255, 200, 0, 110)
#: Precision of pdfium's integer page-to-device mapping: tenths of a point.
_SUBPOINT = 10


class BoxProvider(Protocol):
    """Characters of one page of a PDF with their boxes ([] when it has none to give)."""

    name: str

    def chars(self, pdf: Path, page_number: int) -> list[PageChar]: ...


@contextmanager
def _page(pdf: Path, page_number: int) -> Iterator[Any]:
    """Page `page_number` (1-based) of `pdf`, closed afterwards."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        if not 1 <= page_number <= len(document):
            raise IndexError(f"page {page_number} of {len(document)}")
        page = document[page_number - 1]
        try:
            yield page
        finally:
            page.close()
    finally:
        document.close()


def _to_top_left(page: Any, box: tuple[float, float, float, float]) -> Box:
    """A box in page space (PDF units, origin bottom-left, before /Rotate and the crop box)
    as drawn on the displayed page: points from its top-left corner."""
    import pypdfium2.raw as raw

    width, height = page.get_size()
    size = (round(width * _SUBPOINT), round(height * _SUBPOINT))
    corners = []
    for x, y in ((box[0], box[1]), (box[2], box[3])):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(page.raw, 0, 0, *size, 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        corners.append((dx.value / _SUBPOINT, dy.value / _SUBPOINT))
    (ax, ay), (bx, by) = corners
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


class TextLayer:
    """The characters a PDF draws as text, with pdfium's tight boxes."""

    name = "text layer"

    def chars(self, pdf: Path, page_number: int) -> list[PageChar]:
        import pypdfium2.raw as raw

        with _page(pdf, page_number) as page:
            textpage = page.get_textpage()
            try:
                out = []
                for i in range(textpage.count_chars()):
                    char = chr(raw.FPDFText_GetUnicode(textpage.raw, i) or 0xFFFD)
                    box = None
                    if not raw.FPDFText_IsGenerated(textpage.raw, i) and not char.isspace():
                        box = _to_top_left(page, textpage.get_charbox(i))
                    out.append(PageChar(char, box))
                return out
            finally:
                textpage.close()


class OcrLine(Protocol):
    """What chatbot/ocr.py's `OcrLine` offers: its text and one box (points, top-left)."""

    @property
    def text(self) -> str: ...
    @property
    def box(self) -> tuple[float, float, float, float]: ...


OcrPageLines = Callable[[Path, int, Settings], Sequence[OcrLine]]


class OcrBoxes:
    """Characters of OCR lines, each given its share of its line's box (OCR gives one box
    per line; spreading it by character count is close enough to frame a sentence)."""

    name = "OCR"

    def __init__(self, read_lines: OcrPageLines, settings: Settings) -> None:
        self.read_lines = read_lines
        self.settings = settings

    def chars(self, pdf: Path, page_number: int) -> list[PageChar]:
        out: list[PageChar] = []
        for line in self.read_lines(pdf, page_number, self.settings):
            text = line.text
            if not text:
                continue
            if out:
                out.append(PageChar("\n", None))
            x0, y0, x1, y1 = line.box
            step = (x1 - x0) / len(text)
            out += [
                PageChar(c, (x0 + i * step, y0, x0 + (i + 1) * step, y1))
                for i, c in enumerate(text)
            ]
        return out


def default_providers(settings: Settings) -> list[BoxProvider]:
    """The text layer, then OCR when chatbot/ocr.py (the OCR stage) is installed."""
    providers: list[BoxProvider] = [TextLayer()]
    try:
        ocr = importlib.import_module("chatbot.ocr")
    except ImportError:
        return providers
    read_lines = getattr(ocr, "ocr_page_lines", None)
    if callable(read_lines):
        providers.append(OcrBoxes(read_lines, settings))
    return providers


def page_chars(
    providers: Sequence[BoxProvider], pdf: Path, page_number: int, notes: list[str] | None = None
) -> tuple[list[PageChar], str]:
    """The characters of the first provider that finds any on the page, and its name. A
    provider that fails (OCR not installed, or too slow) is passed over with a line in
    `notes`, so the page is still shown."""
    for provider in providers:
        try:
            chars = provider.chars(pdf, page_number)
        except (ChatbotError, RuntimeError) as exc:  # TimeLimitExceeded is a RuntimeError
            if notes is not None:
                notes.append(f"{provider.name}: {exc}")
            continue
        if any(c.box is not None for c in chars):
            return chars, provider.name
    return [], ""


def render(pdf: Path, page_number: int, boxes: Sequence[Box], scale: float = RENDER_SCALE) -> bytes:
    """The page as PNG bytes with a translucent box over each of `boxes` (at most
    `MAX_PIXELS`: a poster-sized or hostile page box is drawn smaller, never at any cost)."""
    from PIL import Image, ImageDraw

    with _page(pdf, page_number) as page:
        width, height = page.get_size()
        scale = min(scale, math.sqrt(MAX_PIXELS / max(width * height, 1.0)))
        bitmap = page.render(scale=scale)
        try:
            image = bitmap.to_pil().convert("RGBA")
        finally:
            bitmap.close()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0 * scale, y0 * scale, x1 * scale, y1 * scale), fill=HIGHLIGHT_RGBA)
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class HighlightedPage:
    """A rendered page with its highlight: what `highlighted_page` sends back."""

    png: bytes
    boxes: list[Box]
    origin: str  # the provider whose characters were used ("" when none had any)
    notes: list[str]  # providers that failed, and why


def highlighted_page(
    pdf: Path, page_number: int, sentence: str, providers: Sequence[BoxProvider]
) -> HighlightedPage:
    """Page `page_number` rendered with `sentence` highlighted. Meant to run in the worker
    process (chatbot/worker.py): pdfium is not thread-safe, and a hostile page must not
    hang or crash the app."""
    notes: list[str] = []
    chars, origin = page_chars(providers, pdf, page_number, notes)
    boxes = highlight(sentence, chars)
    return HighlightedPage(render(pdf, page_number, boxes), boxes, origin, notes)
