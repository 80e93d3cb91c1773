"""Character boxes from a PDF's text layer and from OCR lines, and the rendered page."""

from __future__ import annotations

import io
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from pdfium_maker import FONT_SIZE, HEIGHT, LEFT, TOP, make_pdf
from PIL import Image

from chatbot.config import Settings
from chatbot.highlight import highlight
from chatbot.page_boxes import (
    HIGHLIGHT_RGBA,
    OcrBoxes,
    TextLayer,
    default_providers,
    page_chars,
    render,
)


@dataclass
class FakeOcrLine:
    """chatbot/ocr.py's OcrLine shape: text, box (x0, y0, x1, y1) in points, top-left."""

    text: str
    box: tuple[float, float, float, float]


SCANNED = [
    FakeOcrLine("Scanned harbour notes", (72.0, 72.0, 300.0, 86.0)),
    FakeOcrLine("The beacon was repaired in May.", (72.0, 90.0, 282.0, 104.0)),
]


def test_text_layer_boxes_sit_where_the_line_was_drawn(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", [["Hello world"], ["Second page line"]])
    chars = TextLayer().chars(pdf, 2)
    assert "".join(c.char for c in chars) == "Second page line"
    boxes = [c.box for c in chars if c.box is not None]
    assert len(boxes) == len("Secondpageline")
    baseline_from_top = TOP  # line 0's baseline is TOP points below the page's top edge
    for x0, y0, x1, y1 in boxes:
        assert LEFT - 1 <= x0 < x1 < LEFT + 200
        assert baseline_from_top - FONT_SIZE <= y0 < y1 <= baseline_from_top + 4
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)  # left to right


def test_a_page_without_text_layer_falls_through_to_ocr(
    tmp_path: Path, fake_settings: Settings
) -> None:
    pdf = make_pdf(tmp_path / "scan.pdf", [["A typed cover page"], []])
    calls: list[tuple[Path, int, Settings]] = []

    def ocr_page_lines(path: Path, page_number: int, settings: Settings) -> list[FakeOcrLine]:
        calls.append((path, page_number, settings))
        return SCANNED

    assert TextLayer().chars(pdf, 2) == []
    providers = [TextLayer(), OcrBoxes(ocr_page_lines, fake_settings)]
    chars, origin = page_chars(providers, pdf, 2)
    assert origin == "OCR" and calls == [(pdf, 2, fake_settings)]
    [box] = highlight("The beacon was repaired in May.", chars)
    assert box[0] == pytest.approx(71.0) and box[2] == pytest.approx(283.0)
    assert (box[1], box[3]) == (89.0, 105.0)
    # A part of a line gets its share of the line's width.
    [part] = highlight("repaired", chars)
    assert 72.0 < part[0] < part[2] < 282.0
    # The text page is not sent to OCR.
    chars, origin = page_chars(providers, pdf, 1)
    assert origin == "text layer" and len(calls) == 1


def test_ocr_is_used_when_chatbot_ocr_is_installed(
    monkeypatch: pytest.MonkeyPatch, fake_settings: Settings
) -> None:
    monkeypatch.setitem(sys.modules, "chatbot.ocr", None)  # not installed: import fails
    assert [p.name for p in default_providers(fake_settings)] == ["text layer"]
    module = types.ModuleType("chatbot.ocr")
    module.ocr_page_lines = lambda path, page, settings: SCANNED  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chatbot.ocr", module)
    providers = default_providers(fake_settings)
    assert [p.name for p in providers] == ["text layer", "OCR"]
    assert "".join(c.char for c in providers[1].chars(Path("x.pdf"), 1)).startswith("Scanned")


def highlighted(pixel: tuple[int, ...]) -> bool:
    """White paper under the translucent yellow (text under it is darker, never this)."""
    r, g, b = pixel[:3]
    return r > 245 and 215 < g < 245 and 120 < b < 170


def test_render_draws_translucent_boxes_only_where_asked(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", [["Hello world", "Another line"]])
    box = (70.0, 60.0, 140.0, 76.0)
    image = Image.open(io.BytesIO(render(pdf, 1, [box], scale=2.0))).convert("RGB")
    assert image.size == (1224, round(HEIGHT * 2))
    inside = [image.getpixel((x, y)) for x in range(141, 279, 4) for y in range(121, 151, 4)]
    assert sum(map(highlighted, inside)) > len(inside) // 2  # paper shows through, tinted
    assert any(max(p[:3]) < 200 for p in inside)  # and so does the text under it
    width, height = image.size
    outside = [
        image.getpixel((x, y)) for x in range(0, width, 7) for y in range(0, height, 7)
        if not (138 <= x <= 282 and 118 <= y <= 154)
    ]
    assert not any(map(highlighted, outside))
    assert HIGHLIGHT_RGBA[3] < 255  # translucent: the words stay readable


def test_a_rotated_and_cropped_page_is_highlighted_along_its_lines(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    lines = [
        "The lighthouse keeper logs the weather at dawn. The fog-",
        "horn sounds twice when ships approach the northern reef.",
    ]
    pdf = make_pdf(tmp_path / "flat.pdf", [lines])
    document = pdfium.PdfDocument(str(pdf))
    document[0].set_rotation(90)  # a landscape scan shown a quarter turn clockwise
    document[0].set_cropbox(50, 600, 500, 750)
    document.save(str(tmp_path / "turned.pdf"))
    document.close()
    turned = tmp_path / "turned.pdf"
    boxes = highlight("The fog-\nhorn sounds twice when ships approach the northern reef.",
                      TextLayer().chars(turned, 1))
    assert len(boxes) == 2
    plain = Image.open(io.BytesIO(render(turned, 1, [], scale=1.0))).convert("L")
    assert plain.size == (150, 450)  # the crop box, turned

    def ink(x0: float, y0: float, x1: float, y1: float) -> int:
        return sum(
            plain.getpixel((x, y)) < 128  # type: ignore[operator]
            for x in range(max(0, int(x0)), min(150, int(x1) + 1))
            for y in range(max(0, int(y0)), min(450, int(y1) + 1))
        )

    for x0, y0, x1, y1 in boxes:
        assert y1 - y0 > x1 - x0  # along the turned line, not across the lines
        assert ink(x0, y0, x1, y1) > 0
    # The second line is covered whole: no ink of its column outside its box.
    column = max(boxes, key=lambda b: b[3] - b[1])
    assert column[3] - column[1] > 250
    assert ink(column[0] + 2, 0, column[2] - 2, column[1] - 1) == 0
    assert ink(column[0] + 2, column[3] + 1, column[2] - 2, 449) == 0
    # The first line only from "The fog-": its start stays unmarked.
    short = min(boxes, key=lambda b: b[3] - b[1])
    assert ink(short[0] + 2, 0, short[2] - 2, short[1] - 1) > 0


def test_a_huge_page_is_drawn_within_the_pixel_cap(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    from chatbot.page_boxes import MAX_PIXELS

    document = pdfium.PdfDocument.new()
    document.new_page(14_400, 14_400).close()  # the largest page PDF allows: 200 x 200 inches
    document.save(str(tmp_path / "poster.pdf"))
    document.close()
    image = Image.open(io.BytesIO(render(tmp_path / "poster.pdf", 1, [(0, 0, 7200, 7200)])))
    assert image.size[0] * image.size[1] <= MAX_PIXELS
    assert image.size[0] == image.size[1] > 2000
    assert highlighted(image.convert("RGB").getpixel((10, 10)))  # boxes scaled with the page
