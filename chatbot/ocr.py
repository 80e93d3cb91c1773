"""OCR of PDF pages that have no text layer (scans, image-only pages), offline.

Pages are rendered with pypdfium2 and read by rapidocr-onnxruntime, whose PP-OCR detection and
recognition ONNX models ship inside its wheel (nothing is downloaded). It is the optional `ocr`
extra (`make install-ocr`; the test lock includes it): without it a scanned page is a one-line
note in the ingest report instead of an error.

OCR is slow and a hostile page can be huge, so every page is read in a separate worker process
(`chatbot.worker.time_limited`, started from the loader's own worker) that is killed after
`CHATBOT_OCR_PAGE_SECONDS`; at most `CHATBOT_OCR_MAX_PAGES` pages of a file are read, and OCR
stops early enough to leave the rest of the file inside `CHATBOT_LOAD_TIMEOUT`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatbot.errors import InstallError
from chatbot.worker import START_TIMEOUT_S, TimeLimitExceeded, WorkerDied, time_limited

#: The fix for a missing extra, as the ingest report and `chatbot doctor` print it.
INSTALL_OCR = "install the ocr extra: make install-ocr"
#: Pixels per PDF point when a page is rendered (144 dpi: small print stays legible)...
SCALE = 2.0
#: ...unless the longer side would exceed this many pixels (a hostile page can be 200 inches).
MAX_SIDE_PX = 3000
#: Share of CHATBOT_LOAD_TIMEOUT that OCR may use, so the file is not killed as a whole.
FILE_BUDGET_SHARE = 0.8

OcrMode = Literal["auto", "off"]


class OcrUnavailable(InstallError):
    """rapidocr (or opencv under it) cannot be imported; the message names the fix."""


@dataclass(frozen=True)
class OcrLine:
    """One recognised line; `box` is (x0, y0, x1, y1) in PDF points, origin top-left."""

    text: str
    box: tuple[float, float, float, float]
    score: float = 1.0


@dataclass(frozen=True)
class OcrLimits:
    """What OCR may cost for one file (see `from_settings`); picklable for the worker."""

    mode: OcrMode = "auto"
    max_pages: int = 50
    page_seconds: float = 60.0
    file_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Any) -> OcrLimits:
        return cls(
            mode=settings.ocr,
            max_pages=settings.ocr_max_pages,
            page_seconds=settings.ocr_page_seconds,
            file_seconds=settings.load_timeout,
        )


@dataclass
class OcrResult:
    """The pages with OCR text filled in, which pages (1-based) it came from, report notes."""

    pages: list[str]
    ocr_pages: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- in the OCR worker process -------------------------------------------------------------
@functools.cache
def _engine() -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise OcrUnavailable(unavailable_reason(exc)) from None
    return RapidOCR()


def unavailable_reason(exc: ImportError) -> str:
    """One line: the extra is not installed, or it is installed but cannot load."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("rapidocr"):
        return f"OCR is not installed; {INSTALL_OCR}"
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    fix = "apt-get install libgl1 libglib2.0-0" if "lib" in detail else INSTALL_OCR
    return f"OCR cannot load ({detail}); {fix}"


def warm_up() -> None:
    """Import rapidocr and load its models (raises OcrUnavailable)."""
    _engine()


def _render(pdf_path: Path, index: int) -> tuple[Any, float]:
    """The page as a BGR array and the pixels per point it was rendered at."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        page = pdf[index]
        width, height = page.get_size()
        scale = min(SCALE, MAX_SIDE_PX / max(width, height, 1.0))
        return page.render(scale=scale).to_numpy(), scale
    finally:
        pdf.close()


def read_page(pdf_path: Path, index: int) -> list[OcrLine]:
    """OCR one page (0-based `index`) in this process: lines in reading order, in points."""
    engine = _engine()
    pixels, scale = _render(pdf_path, index)
    found, _ = engine(pixels)
    lines = []
    for quad, text, score in found or []:
        xs = [float(x) / scale for x, _ in quad]
        ys = [float(y) / scale for _, y in quad]
        lines.append(OcrLine(str(text), (min(xs), min(ys), max(xs), max(ys)), float(score)))
    return lines


def image_only_pages(pdf_path: Path, indexes: Sequence[int]) -> list[int]:
    """Those of `indexes` (0-based) that draw an image: blank pages have nothing to read."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        return [
            i for i in indexes
            if next(pdf[i].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3), None)
            is not None
        ]
    finally:
        pdf.close()


# --- the public calls ------------------------------------------------------------------------
def ocr_page_lines(pdf_path: Path, page_number: int, settings: Any) -> list[OcrLine]:
    """The OCR lines of page `page_number` (1-based), boxes in PDF points from the top-left,
    read in a worker within CHATBOT_OCR_PAGE_SECONDS (for page previews). Raises
    OcrUnavailable without the extra, TimeLimitExceeded when the page takes too long."""
    time_limited(warm_up, seconds=START_TIMEOUT_S)
    lines: list[OcrLine] = time_limited(
        read_page, Path(pdf_path).absolute(), page_number - 1, seconds=settings.ocr_page_seconds
    )
    return lines


def page_text(lines: Sequence[OcrLine]) -> str:
    return "\n".join(line.text for line in lines if line.text.strip())


def _span(numbers: Sequence[int]) -> str:
    """'page 3', 'pages 2-4' or 'pages 2, 5, 9' (numbers ascending)."""
    if len(numbers) == 1:
        return f"page {numbers[0]}"
    if numbers[-1] - numbers[0] == len(numbers) - 1:
        return f"pages {numbers[0]}-{numbers[-1]}"
    shown = ", ".join(map(str, numbers[:8])) + (", ..." if len(numbers) > 8 else "")
    return f"pages {shown}"


def _no_layer(numbers: Sequence[int]) -> str:
    verb = "has" if len(numbers) == 1 else "have"
    return f"{_span(numbers)} {verb} no text layer"


def fill_missing_pages(pdf_path: Path, pages: Sequence[str], limits: OcrLimits) -> OcrResult:
    """OCR the pages of `pages` (their text layers) that are empty but draw an image; others
    stay as they are. What could not be read is a note, never an exception."""
    result = OcrResult(list(pages))
    empty = [i for i, text in enumerate(pages) if not text.strip()]
    try:
        todo = image_only_pages(pdf_path, empty) if empty else []
    except Exception as exc:  # pdfium refusing a file pypdf could read
        result.notes.append(f"{_no_layer([i + 1 for i in empty])}; cannot render it ({exc})")
        return result
    if not todo:
        return result
    numbers = [i + 1 for i in todo]
    if limits.mode == "off":
        result.notes.append(f"{_no_layer(numbers)}; OCR is off (CHATBOT_OCR=off)")
        return result
    deadline = time.monotonic() + limits.file_seconds * FILE_BUDGET_SHARE
    try:  # the engine's start counts against the file's budget too
        time_limited(warm_up, seconds=max(min(START_TIMEOUT_S, deadline - time.monotonic()), 1.0))
    except OcrUnavailable as exc:
        result.notes.append(f"{_no_layer(numbers)}; {str(exc).split('; ', 1)[-1]}")
        return result
    except (TimeLimitExceeded, WorkerDied) as exc:
        result.notes.append(f"{_no_layer(numbers)}; the OCR engine did not start ({exc})")
        return result
    _read_pages(pdf_path, todo[: limits.max_pages], limits, deadline, result)
    if len(todo) > limits.max_pages:
        skipped = numbers[limits.max_pages :]
        result.notes.append(
            f"{_span(skipped)} not OCR'd: at most {limits.max_pages} "
            f"page{'s' if limits.max_pages != 1 else ''} per file (CHATBOT_OCR_MAX_PAGES)"
        )
    return result


def _read_pages(
    pdf_path: Path, todo: Sequence[int], limits: OcrLimits, deadline: float, result: OcrResult
) -> None:
    path = Path(pdf_path).absolute()
    for n, index in enumerate(todo):
        left = deadline - time.monotonic()
        if left <= 1.0:
            result.notes.append(
                f"{_span([i + 1 for i in todo[n:]])} not OCR'd: the file's time limit "
                "(CHATBOT_LOAD_TIMEOUT) ran out"
            )
            return
        seconds = min(limits.page_seconds, left)
        try:
            lines = time_limited(read_page, path, index, seconds=seconds)
        except TimeLimitExceeded:
            result.notes.append(
                f"page {index + 1} not OCR'd: it took longer than {seconds:g} s "
                "(CHATBOT_OCR_PAGE_SECONDS)"
            )
            continue
        except WorkerDied as exc:
            result.notes.append(f"page {index + 1} not OCR'd: the OCR engine crashed ({exc})")
            continue
        except Exception as exc:  # a page pdfium or opencv cannot handle: the others still count
            detail = (str(exc).strip().splitlines() or [""])[0][:160]
            result.notes.append(
                f"page {index + 1} not OCR'd: {type(exc).__name__}: {detail}".rstrip(": ")
            )
            continue
        text = page_text(lines)
        if text:
            result.pages[index] = text
            result.ocr_pages.append(index + 1)
        else:
            result.notes.append(f"page {index + 1}: OCR found no text")


def status() -> str | None:
    """None when OCR works here, else the one-line reason with its fix (for `chatbot doctor`)."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError as exc:
        return unavailable_reason(exc)
    return None
