"""`chatbot ui --collection work` in headless Chromium: the sidebar's collection selector
chooses the documents the chat answers from. Screenshot: tests/artifacts/collections.png."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ui import (
    ARTIFACTS,
    CHATBOT,
    CHROMIUM,
    CHROMIUM_ARGS,
    QUESTION,
    REPO,
    TIMEOUT_MS,
    _ask,
    _free_port,
    _wait_healthy,
)

pytestmark = pytest.mark.browser

FERRY = (
    "The Zanzibar ferry leaves at seven in the morning from pier four. It carries two hundred "
    "passengers, their bicycles, crates of cloves from the northern farms and the post for "
    "every island village along the eastern coast of the archipelago."
)


@pytest.fixture
def two_collections_ui(tmp_path: Path) -> Iterator[str]:
    """seeds/ in the default collection, other/ferry.txt in `work`; the UI starts on `work`."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium; CI installs it)")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("CHATBOT_", "OPENAI_", "CHROMA_"))
    }
    env |= {
        "CHATBOT_LLM_PROVIDER": "fake",
        "CHATBOT_EMBEDDINGS_PROVIDER": "fake",
        "CHATBOT_DATA_DIR": str(tmp_path / "data"),
    }
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ferry.txt").write_text(FERRY, encoding="utf-8")
    for command in (["ingest", "seeds"], ["--collection", "work", "ingest", "other"]):
        subprocess.run(
            [str(CHATBOT), *command], cwd=tmp_path, env=env, check=True, capture_output=True,
            timeout=300,
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "ui.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(CHATBOT), "ui", "--port", str(port), "--collection", "work"], cwd=tmp_path,
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_the_selector_chooses_the_documents(two_collections_ui: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(two_collections_ui, timeout=TIMEOUT_MS)
            selector = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Collection")
            expect(selector).to_have_value("work", timeout=TIMEOUT_MS)
            _ask(page, "When does the Zanzibar ferry leave pier four?")
            citation = page.get_by_test_id("stExpander").first
            expect(citation).to_contain_text("other/ferry.txt", timeout=TIMEOUT_MS)

            selector.click()
            page.get_by_role("option", name="chatbot").click()
            expect(selector).to_have_value("chatbot", timeout=TIMEOUT_MS)
            expect(page.get_by_test_id("stChatMessage")).to_have_count(0)  # a new chat
            _ask(page, QUESTION)
            citation = page.get_by_test_id("stExpander").first
            expect(citation).to_contain_text("seeds/xi-kazakhstan-visit.txt", timeout=TIMEOUT_MS)
            expect(page.get_by_text("other/ferry.txt")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "collections.png"))
        finally:
            browser.close()
