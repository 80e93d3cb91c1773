"""`chatbot ui` in headless Chromium: a PDF citation opens its page with the sentence highlighted.

A PDF with a text layer is generated (tests/pdfium_maker.py) and ingested with the fake
providers; the test asks about one sentence, opens the citation, presses its preview button,
and checks the dialog: the page image is there, the app reports the boxes it drew, and the
image the browser received has the highlight colour where the sentence is. The screenshot is
saved to tests/artifacts/preview.png (path printed); `UPDATE_DOCS_SCREENSHOTS=1` also copies
it to docs/preview.png, the README's picture.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pdfium_maker import make_pdf
from PIL import Image
from test_page_boxes import highlighted
from test_ui import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    TIMEOUT_MS,
    fake_env,
    run_chatbot,
    running_ui,
)

pytestmark = pytest.mark.browser

PAGES = [
    [
        "Harbour report 2025",
        "",
        "The harbour office opened a new visitor centre in April. It shows the history",
        "of the island's shipping and the restoration of the old pier.",
        "",
        "The lighthouse keeper logs the weather at dawn. The fog-",
        "horn sounds twice when ships approach the northern reef. In",
        "clear weather the lamp alone guides them past the rocks.",
        "",
        "Visitors may climb the tower on Sundays between May and",
        "September; the stairs have 212 steps.",
    ],
    [
        "The submarine cable reached the island in March.",
        "Engineers buried the cable under the beach near the harbour.",
    ],
]
QUESTION = "How often does the foghorn sound when ships approach the northern reef?"


@pytest.fixture
def pdf_ui_url(tmp_path: Path) -> Iterator[str]:
    """`chatbot ui` on a free port over a generated PDF, with the fake providers."""
    env = fake_env(
        tmp_path,
        CHATBOT_MIN_RELEVANCE="0",  # the hashing embeddings score low; answer anyway
        CHATBOT_MIN_HYBRID_SCORE="0",
    )
    (tmp_path / "docs").mkdir()
    make_pdf(tmp_path / "docs" / "harbour-report.pdf", PAGES)
    run_chatbot(tmp_path, env, "ingest", "docs")
    with running_ui(tmp_path, env) as url:
        yield url


def test_pdf_citation_opens_its_page_with_the_sentence_highlighted(pdf_ui_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "preview.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            page.goto(pdf_ui_url, timeout=TIMEOUT_MS)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(state="visible", timeout=TIMEOUT_MS)
            box.fill(QUESTION)
            box.press("Enter")
            expect(page.locator(".chatbot-answer").first).to_contain_text(
                "northern reef", timeout=TIMEOUT_MS
            )
            citation = page.get_by_test_id("stExpander").first
            expect(citation).to_contain_text("docs/harbour-report.pdf")
            citation.locator("summary").click()
            citation.get_by_role("button", name="Show page 1 with the sentence highlighted").click()

            dialog = page.get_by_role("dialog")
            marker = dialog.locator(".chatbot-preview")
            try:  # the first preview starts the worker process that draws pages
                expect(marker).to_have_attribute("data-boxes", "2", timeout=2 * TIMEOUT_MS)
            except AssertionError:
                page.screenshot(path=str(ARTIFACTS / "preview-failed.png"))
                raise
            expect(marker).to_have_attribute("data-origin", "text layer")
            image = dialog.get_by_role("img", name="page 1")
            expect(image).to_be_visible(timeout=TIMEOUT_MS)
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                timeout=TIMEOUT_MS,
            )
            # The image the browser shows carries the highlight: fetch it as the browser did.
            source = image.get_attribute("src")
            assert source
            reply = page.request.get(source if "://" in source else pdf_ui_url + source)
            assert reply.ok
            png = Image.open(io.BytesIO(reply.body())).convert("RGB")
            width, height = png.size
            top = [
                png.getpixel((x, y)) for x in range(0, width, 2) for y in range(0, height // 4, 2)
            ]
            marked = sum(map(highlighted, top))
            assert marked > 500, marked  # two lines of translucent yellow near the top
            assert not any(
                highlighted(png.getpixel((x, y)))
                for x in range(0, width, 4) for y in range(height // 4, height, 4)
            )
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    print(f"screenshot of the highlighted PDF page: {shot}")
    # The README's copy is refreshed on request only, so a test run leaves the checkout clean.
    docs_copy = REPO / "docs" / "preview.png"
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1" or not docs_copy.exists():
        shutil.copyfile(shot, docs_copy)
