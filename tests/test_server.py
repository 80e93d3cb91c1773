"""`chatbot serve` against real clients: the official `openai` package and LangChain's
`ChatOpenAI`, talking to a real uvicorn on loopback, with the fake providers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn

from chatbot import Chatbot, ConfigError, Settings
from chatbot.server import create_app
from chatbot.server.app import check_bind

KEY = "test-key-0123456789"
SEED = "seeds/xi-kazakhstan-visit.txt"
QUESTION = "Where will Xi land before Samarkand?"
#: A reply long enough (2000 tokens at 0.05 s) that only a cancellation ends it in a test.
LONG = " ".join(["word"] * 2000) + " [1]."


@dataclass
class Running:
    url: str
    bot: Chatbot

    def client(self, key: str = KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0)

    def http(self, key: str = KEY) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def start(fake_settings: Settings, seed_dir: Path) -> Iterator[Callable[..., Running]]:
    """Start a server on a free loopback port with some settings changed; stopped after."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def run(**overrides: Any) -> Running:
        settings = fake_settings.with_overrides(api_key=KEY, **overrides)
        bot = Chatbot(settings)
        bot.ingest([Path("seeds")])
        port = _free_port()
        config = uvicorn.Config(
            create_app(bot), host="127.0.0.1", port=port, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return Running(f"http://127.0.0.1:{port}", bot)

    yield run
    for server, thread in servers:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def running(start: Callable[..., Running]) -> Running:
    return start()


# --- the openai client ----------------------------------------------------------------------
def test_openai_client_gets_a_cited_answer(running: Running) -> None:
    completion = running.client().chat.completions.create(
        model="chatbot", messages=[{"role": "user", "content": QUESTION}]
    )
    text = completion.choices[0].message.content or ""
    assert "Kazakhstan" in text and "[1]" in text
    extra = (completion.model_extra or {})["chatbot"]
    assert extra["abstained"] is False
    citation = extra["citations"][0]
    assert citation["source"] == SEED and citation["n"] == 1
    document = (Path("seeds") / "xi-kazakhstan-visit.txt").read_text(encoding="utf-8")
    assert document[citation["start"] : citation["end"]] == citation["text"]
    assert extra["sentences"][0]["supported"] is True
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_openai_client_streams_tokens_then_citations(running: Running) -> None:
    stream = running.client().chat.completions.create(
        model="chatbot", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Kazakhstan" in text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    extra = (last.model_extra or {})["chatbot"]
    assert extra["citations"][0]["source"] == SEED and extra["answer"].endswith(".")
    assert last.usage is not None and last.usage.completion_tokens > 0


def test_earlier_messages_are_the_history(running: Running) -> None:
    completion = running.client().chat.completions.create(
        model="chatbot",
        messages=[
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "Who is visiting Kazakhstan?"},
            {"role": "assistant", "content": "Xi Jinping [1]."},
            {"role": "user", "content": [{"type": "text", "text": "Where will he land?"}]},
        ],
    )
    extra = (completion.model_extra or {})["chatbot"]
    assert extra["standalone_question"]  # the follow-up was condensed with the history


def test_summary_request_in_chat_is_a_cited_summary(running: Running) -> None:
    completion = running.client().chat.completions.create(
        model="chatbot", messages=[{"role": "user", "content": "summarize the article"}]
    )
    extra = (completion.model_extra or {})["chatbot"]
    assert (completion.choices[0].message.content or "").startswith("- ")
    assert extra["notes"][0].startswith(f"summary of {SEED}") and extra["citations"]


def test_abstention_is_a_normal_reply_with_a_flag(running: Running) -> None:
    completion = running.client().chat.completions.create(
        model="chatbot",
        messages=[{"role": "user", "content": "What is the boiling point of zinc?"}],
    )
    assert (completion.model_extra or {})["chatbot"]["abstained"] is True
    assert completion.choices[0].finish_reason == "stop"


def test_langchain_chat_openai_invokes_and_streams(running: Running) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="chatbot", base_url=f"{running.url}/v1", api_key=KEY,  # type: ignore[arg-type]
        max_retries=0,
    )
    reply = llm.invoke(QUESTION)
    assert "Kazakhstan" in str(reply.content) and "[1]" in str(reply.content)
    streamed = "".join(str(chunk.content) for chunk in llm.stream(QUESTION))
    assert "Kazakhstan" in streamed


def test_models_lists_one_id_per_collection(running: Running) -> None:
    models = running.client().models.list()
    assert [m.id for m in models.data] == ["chatbot"]
    assert running.client().models.retrieve("chatbot").id == "chatbot"


# --- auth and errors ------------------------------------------------------------------------
def test_a_wrong_or_missing_key_is_401_in_openai_shape(running: Running) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        running.client(key="wrong").models.list()
    assert info.value.status_code == 401
    response = httpx.get(f"{running.url}/v1/documents")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error" and "CHATBOT_API_KEY" in error["message"]
    assert KEY not in response.text
    assert httpx.get(f"{running.url}/health").json()["status"] == "ok"  # open, no data


def test_errors_use_openai_status_codes_and_shape(running: Running) -> None:
    client = running.client()
    with pytest.raises(openai.NotFoundError, match="no model 'gpt-4o'"):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    with pytest.raises(openai.BadRequestError, match="question is empty"):
        client.chat.completions.create(model="chatbot", messages=[{"role": "user", "content": " "}])
    with pytest.raises(openai.BadRequestError, match="last message must be the user"):
        client.chat.completions.create(
            model="chatbot", messages=[{"role": "assistant", "content": "hi"}]
        )
    with running.http() as http:
        bad = http.post("/v1/chat/completions", json={"model": "chatbot", "messages": "x" * 50})
        assert bad.status_code == 400 and "x" * 50 not in bad.text
        assert bad.json()["error"]["type"] == "invalid_request_error"
        missing = http.get("/v1/nothing-here")
        assert missing.status_code == 404 and "error" in missing.json()
        gone = http.delete("/v1/documents/uploads/none.txt")
        assert gone.status_code == 404 and "no indexed source" in gone.json()["error"]["message"]


def test_a_full_queue_is_429_with_retry_after_and_disconnect_cancels(
    start: Callable[..., Running],
) -> None:
    running = start(serve_queue=0, fake_llm_replies=[LONG], fake_llm_token_delay=0.05)
    with running.http() as http:
        body = {"model": "chatbot", "stream": True,
                "messages": [{"role": "user", "content": QUESTION}]}
        with http.stream("POST", "/v1/chat/completions", json=body) as first:
            assert first.status_code == 200
            next(first.iter_lines())  # the stream has begun: the model is taken
            busy = http.post("/v1/chat/completions", json={**body, "stream": False})
            assert busy.status_code == 429
            assert int(busy.headers["Retry-After"]) >= 1
            assert busy.json()["error"]["code"] == "rate_limit_exceeded"
            assert http.get("/health").json()["busy"] is True
        # The client left after one line of a 100-second answer: the generation stops and
        # the model is free for the next request long before the answer would have ended.
        deadline = time.monotonic() + 60
        while http.get("/health").json()["busy"]:
            assert time.monotonic() < deadline, "the abandoned generation kept the model"
            time.sleep(0.1)


def test_waiting_requests_are_served_in_turn(start: Callable[..., Running]) -> None:
    running = start(serve_queue=8)
    results: list[int] = []

    def ask() -> None:
        with running.http() as http:
            response = http.post("/v1/chat/completions", json={
                "model": "chatbot", "messages": [{"role": "user", "content": QUESTION}]})
            results.append(response.status_code)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert results == [200] * 6


# --- documents --------------------------------------------------------------------------------
def test_documents_upload_list_delete(running: Running) -> None:
    with running.http() as http:
        files = [
            ("files", ("notes.txt", b"The kettle whistles at noon.", "text/plain")),
            ("files", ("../../evil.exe", b"MZ", "application/octet-stream")),
        ]
        report = http.post("/v1/documents", files=files).json()
        statuses = {f["source"]: (f["status"], f["reason"]) for f in report["files"]}
        assert statuses["uploads/notes.txt"][0] == "added"
        assert statuses["uploads/evil.exe"] == ("skipped", "unsupported file type .exe")
        listed = [d["source"] for d in http.get("/v1/documents").json()["data"]]
        assert listed == [SEED, "uploads/notes.txt"] or sorted(listed) == sorted(
            [SEED, "uploads/notes.txt"]
        )
        deleted = http.delete("/v1/documents/uploads/notes.txt").json()
        assert deleted["deleted"] is True and deleted["chunks"] >= 1
        assert not (running.bot.uploads_dir / "notes.txt").exists()
        too_many = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(21)]
        refused = http.post("/v1/documents", files=too_many)
        assert refused.status_code == 400 and "CHATBOT_SERVE_MAX_FILES" in refused.text


def test_a_file_over_the_size_limit_is_skipped(start: Callable[..., Running]) -> None:
    running = start(max_file_mb=0.001)
    with running.http() as http:
        files = [("files", ("big.txt", b"word " * 1000, "text/plain"))]
        [item] = http.post("/v1/documents", files=files).json()["files"]
    assert item["status"] == "skipped" and item["reason"].startswith("too large")


def test_summaries_endpoint(running: Running) -> None:
    with running.http() as http:
        summary = http.post("/v1/summaries", json={"sources": [SEED], "bullets": 2}).json()
    assert summary["sources"] == [SEED] and summary["bullets"] and summary["citations"]


def test_index_stays_consistent_under_concurrent_uploads_and_questions(running: Running) -> None:
    failures: list[str] = []

    def upload(n: int) -> None:
        with running.http() as http:
            text = f"Document {n} says the lighthouse number {n} is painted green.".encode()
            response = http.post("/v1/documents", files=[("files", (f"doc{n}.txt", text))])
            if response.status_code != 200:
                failures.append(response.text)

    def ask() -> None:
        completion = running.client().chat.completions.create(
            model="chatbot", messages=[{"role": "user", "content": QUESTION}]
        )
        if not (completion.model_extra or {})["chatbot"]["citations"]:
            failures.append("no citation")

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    sources = {r.source for r in running.bot.sources()}
    assert sources == {SEED, *(f"uploads/doc{n}.txt" for n in range(4))}
    chunks = sum(r.chunks for r in running.bot.sources())
    assert running.bot.count() == chunks


def test_openapi_schema_lists_the_routes(running: Running) -> None:
    schema = httpx.get(f"{running.url}/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/v1/chat/completions", "/v1/models", "/v1/documents", "/health"} <= paths
    chunk = json.dumps(schema["components"]["schemas"]["Extension"])
    assert "citations" in chunk and "sentences" in chunk


# --- binding --------------------------------------------------------------------------------
def test_a_public_address_needs_a_key(fake_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="CHATBOT_API_KEY"):
        check_bind(Chatbot(fake_settings), "0.0.0.0")
    check_bind(Chatbot(fake_settings), "127.0.0.1")
    check_bind(Chatbot(fake_settings), "::1")
    check_bind(Chatbot(fake_settings.with_overrides(api_key=KEY)), "0.0.0.0")


def test_cli_serve_refuses_a_public_address_without_a_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot.cli import main

    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_EMBEDDINGS_PROVIDER", "fake")
    assert main(["serve", "--host", "0.0.0.0", "--port", "9"]) == 2
    assert "CHATBOT_API_KEY" in capsys.readouterr().err


# --- the embedded model ---------------------------------------------------------------------
@pytest.mark.slow
def test_embedded_model_answers_the_openai_client_with_citations(
    start: Callable[..., Running],
) -> None:
    running = start(
        llm_provider="local", embeddings_provider="local",
        request_timeout=1800, max_retries=0,  # no timing threshold: the 2 cores may be shared
    )
    client = running.client()
    question: Any = [
        {"role": "user", "content": "Which country does Xi visit before the SCO summit?"}
    ]
    completion = client.chat.completions.create(model="chatbot", messages=question)
    extra = (completion.model_extra or {})["chatbot"]
    print(json.dumps(completion.model_dump(), indent=1, ensure_ascii=False))
    assert extra["abstained"] is False, extra["notes"]
    assert "Kazakhstan" in (completion.choices[0].message.content or "")
    assert any("Kazakhstan" in c["text"] and c["source"] == SEED for c in extra["citations"])
    chunks = list(
        client.chat.completions.create(model="chatbot", messages=question, stream=True)
    )
    assert len(chunks) > 3 and chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["chatbot"]["citations"]
