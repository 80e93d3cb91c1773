"""`chatbot ui --collection work` in headless Chromium: the sidebar's collection selector
chooses the documents the chat answers from. Screenshot: tests/artifacts/collections.png."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ui import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    QUESTION,
    REPO,
    TIMEOUT_MS,
    _ask,
    fake_env,
    run_chatbot,
    running_ui,
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
    env = fake_env(tmp_path)
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ferry.txt").write_text(FERRY, encoding="utf-8")
    run_chatbot(tmp_path, env, "ingest", "seeds")
    run_chatbot(tmp_path, env, "--collection", "work", "ingest", "other")
    with running_ui(tmp_path, env, "--collection", "work") as url:
        yield url


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
