"""`chatbot ui` in headless Chromium: ask, watch the streamed answer, open a citation.

Runs the real command on a free loopback port with the fake providers over an index made by
`chatbot ingest seeds`, and drives Debian's Chromium through Playwright (never a downloaded
browser). The screenshot goes to tests/artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CHATBOT = Path(sys.executable).parent / "chatbot"
QUESTION = "Which country does Xi visit before the SCO summit?"
TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`chatbot ui` exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"`chatbot ui` did not become healthy in 90 s:\n{log.read_text()}")


def fake_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `chatbot` run on the fake providers, data under `tmp_path`
    (nothing of the caller's CHATBOT_/OPENAI_/CHROMA_ settings leaks in)."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium; CI installs it)")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("CHATBOT_", "OPENAI_", "CHROMA_"))
    }
    return env | {
        "CHATBOT_LLM_PROVIDER": "fake",
        "CHATBOT_EMBEDDINGS_PROVIDER": "fake",
        "CHATBOT_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


def run_chatbot(tmp_path: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [str(CHATBOT), *args], cwd=tmp_path, env=env, check=True, capture_output=True,
        timeout=300,
    )


@contextlib.contextmanager
def running_ui(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """`chatbot ui` on a free port until the block ends; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "ui.log"
    with log.open("wb") as sink:
        # Own session: `chatbot ui` starts streamlit as a child; stop both by group id.
        process = subprocess.Popen(
            [str(CHATBOT), "ui", "--port", str(port), *args], cwd=tmp_path, env=env,
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
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


@pytest.fixture
def ui_url(tmp_path: Path) -> Iterator[str]:
    """`chatbot ui` on a free port, over seeds/ ingested with the same fake providers."""
    env = fake_env(tmp_path)
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    run_chatbot(tmp_path, env, "ingest", "seeds")
    with running_ui(tmp_path, env) as url:
        yield url


def _ask(page: object, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")  # type: ignore[attr-defined]
    box.wait_for(state="visible", timeout=TIMEOUT_MS)
    box.fill(question)
    box.press("Enter")


def test_ask_open_citation_and_screenshot(ui_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    seed = (REPO / "seeds" / "xi-kazakhstan-visit.txt").read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1100})
            page = context.new_page()
            page.goto(ui_url, timeout=TIMEOUT_MS)
            _ask(page, QUESTION)

            answer = page.locator(".chatbot-answer").first
            expect(answer).to_contain_text("Kazakhstan", timeout=TIMEOUT_MS)
            expect(page.get_by_text("first token", exact=False).first).to_be_visible()
            assert page.get_by_test_id("stChatMessage").count() == 2

            citation = page.get_by_test_id("stExpander").first
            expect(citation).to_contain_text("[1]")
            expect(citation).to_contain_text("seeds/xi-kazakhstan-visit.txt")
            citation.locator("summary").click()
            mark = citation.locator("mark.chatbot-support")
            expect(mark).to_be_visible(timeout=TIMEOUT_MS)
            highlighted = mark.inner_text().strip()
            assert len(highlighted) > 20 and highlighted in seed
            assert "Kazakhstan" in highlighted
            mark.scroll_into_view_if_needed()
            page.wait_for_timeout(800)  # let the expander's opening animation finish
            page.screenshot(path=str(ARTIFACTS / "chat-citation.png"))
        finally:
            browser.close()


def test_two_tabs_chat_at_once(ui_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            tabs = [context.new_page(), context.new_page()]
            for tab in tabs:
                tab.goto(ui_url, timeout=TIMEOUT_MS)
                tab.get_by_test_id("stChatInputTextArea").wait_for(timeout=TIMEOUT_MS)
            questions = [QUESTION, "Who is the president of Kazakhstan?"]
            for tab, question in zip(tabs, questions, strict=True):
                _ask(tab, question)
            for tab in tabs:
                expect(tab.locator(".chatbot-answer").first).to_be_visible(timeout=TIMEOUT_MS)
                expect(tab.get_by_test_id("stExpander").first).to_contain_text("[1]")
            # Each tab keeps its own conversation.
            expect(tabs[0].get_by_test_id("stChatMessage").first).to_contain_text("SCO summit")
            expect(tabs[1].get_by_test_id("stChatMessage").first).to_contain_text("president")
        finally:
            browser.close()
