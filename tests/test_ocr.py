"""OCR of PDF pages without a text layer: PDFs generated here from text drawn into images."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from chatbot import Chatbot
from chatbot.cli import main
from chatbot.config import Settings
from chatbot.doctor import check_ocr
from chatbot.loaders import LoadLimits, load
from chatbot.ocr import OcrLimits, ocr_page_lines
from chatbot.records import create_schema
from chatbot.server.schema import Extension, IngestReportOut

REPORT_PDF = Path(__file__).resolve().parent / "data" / "ingest" / "report.pdf"
DPI = 150  # the scans' resolution: 1240 x 1754 pixels is an A4 page (595 x 842 points)
LIGHTHOUSE = "The harbour lighthouse was painted blue in 1923."
PELICAN = "A pelican named Zanzibar guards the quartz quarry."


def scan(lines: list[str], at: tuple[int, int] = (100, 200)) -> Image.Image:
    """A white A4 page at DPI with the lines drawn in black, 100 pixels apart."""
    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for n, text in enumerate(lines):
        draw.text((at[0], at[1] + 100 * n), text, fill="black", font=font)
    return image


def add_scanned_page(pdf: pdfium.PdfDocument, image: Image.Image, index: int | None = None) -> None:
    """A page that only draws `image` (no text layer), sized by the image at DPI."""
    width, height = image.width * 72 / DPI, image.height * 72 / DPI
    page = pdf.new_page(width, height) if index is None else pdf.new_page(width, height, index)
    picture = pdfium.PdfImage.new(pdf)
    picture.set_bitmap(pdfium.PdfBitmap.from_pil(image))
    picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(picture)
    page.gen_content()


def scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    pdf = pdfium.PdfDocument.new()
    for lines in pages:
        add_scanned_page(pdf, scan(lines))
    pdf.save(path)
    return path


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        llm_provider="fake", embeddings_provider="fake", data_dir=tmp_path / "data",
        _env_file=None, **overrides,  # type: ignore[call-arg]
    )


def test_a_scanned_page_is_indexed_and_cited_with_its_page_and_the_ocr_origin(
    tmp_path: Path,
) -> None:
    path = scanned_pdf(tmp_path / "scan.pdf", [[PELICAN], [LIGHTHOUSE]])
    bot = Chatbot(settings_for(tmp_path))
    report = bot.ingest([path])
    assert [(f.status, f.notes) for f in report.files] == [("added", [])]

    answer = bot.ask("When was the harbour lighthouse painted blue?")
    assert not answer.abstained
    cited = [c for c in answer.citations if "lighthouse" in c.text]
    assert cited and all(c.page == 2 and c.ocr for c in cited)
    assert "1923" in cited[0].text
    # JSON as the CLI prints it and as the server's `chatbot` field carries it.
    assert answer.to_json()["citations"][0]["ocr"] is True
    extension = Extension(
        answer=answer.answer, abstained=False, citations=answer.citations,
        sentences=answer.sentences, notes=[], timings={},
    )
    assert extension.model_dump(mode="json")["citations"][0]["ocr"] is True


def test_the_cli_shows_the_ocr_origin_with_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scanned_pdf(tmp_path / "scan.pdf", [[LIGHTHOUSE]])
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_EMBEDDINGS_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    assert main(["ingest", "scan.pdf"]) == 0
    capsys.readouterr()
    assert main(["ask", "When was the harbour lighthouse painted blue?"]) == 0
    out = capsys.readouterr().out
    assert "scan.pdf, page 1 (OCR) (chars 0-48)" in out


def test_a_mixed_pdf_ocrs_only_the_page_without_a_text_layer(tmp_path: Path) -> None:
    pdf = pdfium.PdfDocument(REPORT_PDF)  # three pages with text layers
    add_scanned_page(pdf, scan([LIGHTHOUSE]), index=1)
    pdf.save(tmp_path / "mixed.pdf")
    original = load(REPORT_PDF, LoadLimits())

    document = load(tmp_path / "mixed.pdf", LoadLimits())

    assert document.ocr_pages == [2]
    assert document.notes == []
    starts = [*document.page_starts, len(document.text) + 2]
    pages = [document.text[a : b - 2] for a, b in itertools.pairwise(starts)]
    assert pages[1] == LIGHTHOUSE
    before = [*original.page_starts, len(original.text) + 2]
    assert [pages[0], *pages[2:]] == [
        original.text[a : b - 2] for a, b in itertools.pairwise(before)
    ]


def test_the_page_cap_names_the_pages_left_out(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "three.pdf", [[LIGHTHOUSE], [PELICAN], [PELICAN]])
    report = Chatbot(settings_for(tmp_path, ocr_max_pages=1)).ingest([path])
    (item,) = report.files
    assert item.status == "added"
    assert item.notes == ["pages 2-3 not OCR'd: at most 1 page per file (CHATBOT_OCR_MAX_PAGES)"]
    served = IngestReportOut.model_validate(report.to_json())  # POST /v1/documents' answer
    assert served.files[0].notes == item.notes


def test_the_per_page_time_limit_is_a_clear_reason(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "slow.pdf", [[LIGHTHOUSE]])
    # No page renders and OCRs in a millisecond: the page worker is killed at the limit.
    report = Chatbot(settings_for(tmp_path, ocr_page_seconds=0.001)).ingest([path])
    (item,) = report.files
    assert item.status == "skipped"
    assert item.reason == (
        "page 1 not OCR'd: it took longer than 0.001 s (CHATBOT_OCR_PAGE_SECONDS)"
    )


def test_ocr_off_names_the_page_without_a_text_layer(tmp_path: Path) -> None:
    pdf = pdfium.PdfDocument(REPORT_PDF)
    add_scanned_page(pdf, scan([LIGHTHOUSE]), index=2)
    pdf.save(tmp_path / "mixed.pdf")
    report = Chatbot(settings_for(tmp_path, ocr="off")).ingest([tmp_path / "mixed.pdf"])
    (item,) = report.files
    assert item.status == "added"
    assert item.notes == ["page 3 has no text layer; OCR is off (CHATBOT_OCR=off)"]


FAKE_PACKAGES = {
    "missing": (
        "raise ModuleNotFoundError(\"No module named 'rapidocr_onnxruntime'\", "
        "name='rapidocr_onnxruntime')",
        "page 1 has no text layer; install the ocr extra: make install-ocr",
    ),
    "broken": (
        "raise ImportError('libGL.so.1: cannot open shared object file: No such file')",
        "page 1 has no text layer; apt-get install libgl1 libglib2.0-0",
    ),
}


@pytest.mark.parametrize("case", sorted(FAKE_PACKAGES))
def test_without_a_working_ocr_extra_the_report_and_doctor_say_how_to_get_it(
    tmp_path: Path, case: str
) -> None:
    """The import fails in other processes: a package of the same name that raises shadows
    the real one on PYTHONPATH (the loader's worker processes inherit it)."""
    body, reason = FAKE_PACKAGES[case]
    shadow = tmp_path / "shadow" / "rapidocr_onnxruntime"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(body + "\n")
    scanned_pdf(tmp_path / "scan.pdf", [[LIGHTHOUSE]])
    env = {
        "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "shadow"),
        "CHATBOT_LLM_PROVIDER": "fake", "CHATBOT_EMBEDDINGS_PROVIDER": "fake",
        "CHATBOT_DATA_DIR": str(tmp_path / "data"),
    }
    run = subprocess.run(
        [sys.executable, "-m", "chatbot", "ingest", "scan.pdf", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )
    assert run.returncode == 1, run.stderr  # nothing could be ingested
    files = json.loads(run.stdout)["files"]
    assert [(f["status"], f["reason"]) for f in files] == [("skipped", reason)]

    doctor = subprocess.run(
        [sys.executable, "-c", "import json; from chatbot.doctor import check_ocr; "
         "print(json.dumps(check_ocr().to_json()))"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600, check=True,
    )
    check = json.loads(doctor.stdout)
    assert check["status"] == "note"
    assert check["fix"] == reason.split("; ", 1)[1]


def test_doctor_reports_ocr_available() -> None:
    assert check_ocr().status == "ok"


def test_ocr_page_lines_are_in_pdf_points_from_the_top_left(tmp_path: Path) -> None:
    pdf = pdfium.PdfDocument.new()
    add_scanned_page(pdf, scan(["blank page follows"]))
    add_scanned_page(pdf, scan([PELICAN], at=(300, 900)))
    pdf.save(tmp_path / "two.pdf")

    lines = ocr_page_lines(tmp_path / "two.pdf", 2, settings_for(tmp_path))

    assert [line.text for line in lines] == [PELICAN]
    x0, y0, x1, y1 = lines[0].box
    points = 72 / DPI  # pixels of the scan -> points
    assert abs(x0 - 300 * points) < 8 and abs(y0 - 900 * points) < 10
    assert x0 < x1 < 595 and y0 < y1 < 900 * points + 40


def test_a_blank_page_is_not_sent_to_ocr(tmp_path: Path) -> None:
    pdf = pdfium.PdfDocument.new()
    pdf.new_page(595, 842).gen_content()
    add_scanned_page(pdf, scan([LIGHTHOUSE]))
    pdf.save(tmp_path / "blank-first.pdf")
    document = load(tmp_path / "blank-first.pdf", LoadLimits(ocr=OcrLimits(max_pages=1)))
    assert document.ocr_pages == [2] and document.notes == []


def test_an_index_made_before_ocr_gains_the_column(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    create_schema(db)
    db.execute("ALTER TABLE chunks DROP COLUMN ocr")  # as the previous version made it
    create_schema(db)
    columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
    assert "ocr" in columns


def test_the_app_shows_the_ocr_origin_beside_the_page() -> None:
    from chatbot.app import views
    from chatbot.models import Citation

    scanned = Citation(1, "scans/a.pdf", "id", "text", 10, 20, page=3, ocr=True)
    typed = Citation(2, "docs/b.pdf", "id2", "text", 0, 4, page=1)
    assert views.location(scanned) == "page 3 (OCR), characters 10–20"
    assert views.citation_label(scanned).endswith(" 3 · OCR")  # "p\\. 3": Markdown-escaped
    assert views.location(typed) == "page 1, characters 0–4"
    assert "OCR" not in views.citation_label(typed)


def test_a_scanned_page_preview_highlights_the_ocr_lines_of_the_sentence(tmp_path: Path) -> None:
    """Issue 17 item 3 with the real OCR engine: the preview of an OCR'd citation draws its
    boxes from `ocr_page_lines`, over the sentence's own lines on the rendered page."""
    path = scanned_pdf(tmp_path / "scan.pdf", [[PELICAN], [LIGHTHOUSE]])
    bot = Chatbot(settings_for(tmp_path))
    bot.ingest([path])
    answer = bot.ask("When was the harbour lighthouse painted blue?")
    [citation] = [c for c in answer.citations if "lighthouse" in c.text][:1]
    preview = bot.preview(citation)
    assert (preview.page, preview.origin) == (2, "OCR") and preview.png is not None
    assert preview.boxes, preview.message
    lines = ocr_page_lines(path, 2, settings_for(tmp_path))
    cited = [line for line in lines if "1923" in line.text or "lighthouse" in line.text.lower()]
    assert cited
    for x0, y0, x1, y1 in preview.boxes:  # every box lies on a line that holds the sentence
        assert any(
            y0 < line.box[3] and line.box[1] < y1 and x0 < line.box[2] and line.box[0] < x1
            for line in cited
        )
