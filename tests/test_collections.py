"""Collections: separate piles of documents, each with its own index and embedding-model record,
through the library, the CLI, the HTTP API and the app (fake providers throughout)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest
from test_index import _old_index

from chatbot import Chatbot, CollectionInfo, InvalidRequestError, NotFoundError, Settings
from chatbot.cli import main
from chatbot.collections import names, uploads_dir
from chatbot.index import EmbeddingMismatchError
from chatbot.locking import IndexBusyError, lock_path
from chatbot.server import create_app
from chatbot.vectors import Vectors

SEED = "seeds/xi-kazakhstan-visit.txt"
FERRY = "other/ferry.txt"
FERRY_TEXT = (
    "The Zanzibar ferry leaves at seven in the morning from pier four. It carries two hundred "
    "passengers, their bicycles, crates of cloves from the northern farms and the post for "
    "every island village along the eastern coast of the archipelago."
)
FERRY_QUESTION = "When does the Zanzibar ferry leave pier four?"
XI_QUESTION = "Which country does Xi visit before the SCO summit?"
APP = Path(__file__).resolve().parent.parent / "chatbot" / "app" / "main.py"


@pytest.fixture
def two(fake_settings: Settings, seed_dir: Path) -> Chatbot:
    """The default collection holds seeds/, the collection `work` holds other/ferry.txt."""
    (seed_dir.parent / "other").mkdir()
    (seed_dir.parent / "other" / "ferry.txt").write_text(FERRY_TEXT, encoding="utf-8")
    bot = Chatbot(fake_settings)
    bot.ingest([Path("seeds")])
    bot.using("work").ingest([Path("other")])
    return bot


def _cited(answer_json: dict[str, Any]) -> set[str]:
    return {str(c["source"]) for c in answer_json["citations"]}


# --- the library ------------------------------------------------------------------------------
def test_two_collections_never_mix_in_sources_answers_or_summaries(two: Chatbot) -> None:
    work = two.using("work")
    assert [r.source for r in two.sources()] == [SEED]
    assert [r.source for r in work.sources()] == [FERRY]
    ferry = work.ask(FERRY_QUESTION)
    assert not ferry.abstained and "seven" in ferry.answer
    assert {c.source for c in ferry.citations} == {FERRY}
    for question in (FERRY_QUESTION, XI_QUESTION):  # the default never sees the ferry
        assert {c.source for c in two.ask(question).citations} <= {SEED}
        assert {c.source for c in work.ask(question).citations} <= {FERRY}
    assert {c.source for c in work.summarize().citations} == {FERRY}
    with pytest.raises(InvalidRequestError, match="no indexed source"):  # not in this one
        work.ask(XI_QUESTION, sources=[SEED])


def test_collections_share_the_models_of_one_chatbot(two: Chatbot) -> None:
    work = two.using("work")
    assert work is two.using("work")
    assert work.pipeline.models is two.pipeline.models
    assert work.pipeline.chat is two.pipeline.chat  # one model server for every collection


def test_listing_counts_each_collection_and_its_embedding_model(two: Chatbot) -> None:
    listed = {info.name: info for info in two.collections()}
    assert listed == {
        "chatbot": CollectionInfo("chatbot", 1, two.count(), "fake-hashing-256"),
        "work": CollectionInfo("work", 1, 1, "fake-hashing-256"),
    }


def test_each_collection_keeps_its_own_embedding_model(
    two: Chatbot, fake_settings: Settings
) -> None:
    other_model = fake_settings.with_overrides(embedding_model="fake-other-model")
    Chatbot(other_model).using("wide").ingest([Path("other")])
    listed = {info.name: info.embedding_model for info in two.collections()}
    assert listed == {
        "chatbot": "fake-hashing-256", "work": "fake-hashing-256", "wide": "fake-other-model",
    }
    with pytest.raises(EmbeddingMismatchError) as caught:  # refused, with the way out
        two.using("wide").open()
    assert "fake-other-model" in str(caught.value)
    assert "chatbot ingest --rebuild --collection wide" in str(caught.value)
    assert "seven" in two.using("work").ask(FERRY_QUESTION).answer  # the others still work
    report = two.using("wide").rebuild([Path("other")])  # rebuilt with today's model
    assert report.count("added") == 1
    assert {i.name: i.embedding_model for i in two.collections()}["wide"] == "fake-hashing-256"
    assert "seven" in two.using("wide").ask(FERRY_QUESTION).answer


def test_create_records_the_model_and_delete_removes_everything(
    fake_settings: Settings, tmp_path: Path
) -> None:
    bot = Chatbot(fake_settings)
    info = bot.create_collection("notes.2024")
    assert info == CollectionInfo("notes.2024", 0, 0, "fake-hashing-256")
    with pytest.raises(InvalidRequestError, match="already exists"):
        bot.create_collection("notes.2024")
    notes = bot.using("notes.2024")
    notes_file = tmp_path / "a.txt"
    notes_file.write_text("Alpacas hum when they are curious.", encoding="utf-8")
    from chatbot import Upload

    notes.upload([Upload("alpacas.txt", notes_file.read_bytes())])
    saved = uploads_dir(notes.settings) / "alpacas.txt"
    assert saved.is_file() and saved.parent != bot.uploads_dir  # not the default's folder
    assert bot.delete_collection("notes.2024").sources == 1
    assert "notes.2024" not in names(fake_settings)
    assert not saved.exists()
    assert not [n for n in Vectors(fake_settings).names() if n.startswith("notes.2024")]
    with pytest.raises(NotFoundError, match=r"no collection 'notes\.2024'"):
        bot.delete_collection("notes.2024")


def test_throwaway_collections_of_eval_and_bench_are_not_listed(
    two: Chatbot, fake_settings: Settings
) -> None:
    from chatbot.evaluate import throwaway_pipeline
    from chatbot.index import drop_index

    with throwaway_pipeline(fake_settings, "eval") as pipeline:
        pipeline.index.ingest([Path("other")])
        assert pipeline.settings.collection not in names(fake_settings)
    # What older versions left behind: the name of an emptied throwaway collection.
    left = fake_settings.with_overrides(collection="bench-0123456789ab")
    Chatbot(left).ingest([Path("other")])
    drop_index(left)
    assert names(fake_settings) == ["chatbot", "work"]
    assert [info.name for info in two.collections()] == ["chatbot", "work"]


@pytest.mark.parametrize(
    "name", ["ab", "a" * 64, "-abc", "abc-", "a..b", "10.0.0.1", "with space", "ünï", "x/../y"]
)
def test_invalid_names_are_refused_without_being_echoed(
    fake_settings: Settings, name: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Chatbot(fake_settings).using(name)
    assert name not in str(caught.value) and "3 to 63 characters" in str(caught.value)


def test_a_collection_deleted_under_an_open_chatbot_is_made_again_on_its_next_write(
    two: Chatbot, fake_settings: Settings
) -> None:
    """Another process deletes `work` while this one has it open: its next ingest registers
    it again instead of writing rows that no collection owns."""
    work = two.using("work")
    assert work.count() == 1
    Chatbot(fake_settings).delete_collection("work")
    assert work.count() == 0 and work.sources() == []
    work.ingest([Path("other")])
    assert "work" in names(fake_settings)
    reopened = Chatbot(fake_settings.with_overrides(collection="work"))
    assert [r.source for r in reopened.sources()] == [FERRY] and reopened.count() == 1


# --- old data dirs ----------------------------------------------------------------------------
def test_an_index_from_before_collections_opens_as_the_default_without_embedding(
    fake_settings: Settings, seed_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_settings.data_dir.mkdir()
    _old_index(fake_settings.data_dir, seed_dir)  # chunks only in Chroma, one collection
    from chatbot.fakes import HashingEmbeddings

    def no_embedding(self: object, texts: list[str]) -> list[list[float]]:
        raise AssertionError("an old index must not be embedded again")

    monkeypatch.setattr(HashingEmbeddings, "embed_documents", no_embedding)
    bot = Chatbot(fake_settings)
    assert [(i.name, i.sources, i.chunks) for i in bot.collections()] == [("chatbot", 1, 2)]
    answer = bot.ask("Where does Xi travel, Kazakhstan?")
    assert {c.chunk_id for c in answer.citations} <= {"old-1", "old-2"} and answer.citations


def test_a_default_index_written_before_keeps_its_vectors(
    seeded_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data dir made with the default collection (as every version wrote it) is listed and
    answered from as `chatbot`, with the very vectors it had."""
    _fake_env(monkeypatch, seeded_dir)
    settings = Settings(data_dir=seeded_dir, _env_file=None)  # type: ignore[call-arg]
    before = sorted(Vectors(settings).names())
    assert main(["collections", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == "chatbot" and listed["sources"] == 1
    assert main(["ask", "--json", XI_QUESTION]) == 0
    assert "Kazakhstan" in json.loads(capsys.readouterr().out)["answer"]
    assert sorted(Vectors(settings).names()) == before


# --- the CLI ----------------------------------------------------------------------------------
def _fake_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_EMBEDDINGS_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(data_dir))


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed_dir: Path) -> Path:
    _fake_env(monkeypatch, tmp_path / "data")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ferry.txt").write_text(FERRY_TEXT, encoding="utf-8")
    return tmp_path / "data"


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_cli_collection_option_on_every_index_command(
    cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "seeds"]) == 0
    assert main(["--collection", "work", "ingest", "other"]) == 0  # creates it
    capsys.readouterr()
    assert main(["sources", "--json", "--collection", "work"]) == 0
    assert [s["source"] for s in _json(capsys)] == [FERRY]
    assert main(["sources", "--json"]) == 0
    assert [s["source"] for s in _json(capsys)] == [SEED]
    assert main(["ask", "--json", "--collection", "work", FERRY_QUESTION]) == 0
    assert _cited(_json(capsys)) == {FERRY}
    assert main(["--collection", "work", "ask", "--json", XI_QUESTION]) == 0
    assert _cited(_json(capsys)) <= {FERRY}
    assert main(["summarize", "--json", "--collection", "work"]) == 0
    assert {c["source"] for c in _json(capsys)["citations"]} == {FERRY}
    assert main(["remove", "--collection", "work", FERRY]) == 0
    assert main(["sources", "--json", "--collection", "work"]) == 0
    assert _json(capsys) == []
    assert main(["sources", "--json"]) == 0  # the default kept its document
    assert [s["source"] for s in _json(capsys)] == [SEED]


def test_cli_refuses_unknown_and_invalid_collections(
    cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "seeds"]) == 0
    capsys.readouterr()
    assert main(["ask", "--collection", "nope", "anything?"]) == 2
    err = capsys.readouterr().err
    assert "no collection 'nope'" in err and "chatbot collections create nope" in err
    assert "nope" not in names(Settings(data_dir=cli, _env_file=None))  # type: ignore[call-arg]
    assert main(["sources", "--collection", "x\x1b[31m"]) == 2
    err = capsys.readouterr().err
    assert "invalid collection name" in err and "\x1b" not in err


def test_cli_collections_list_create_delete(
    cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", "seeds"]) == 0
    assert main(["collections", "create", "empty-one"]) == 0
    assert main(["collections", "create", "empty-one"]) == 2  # already exists
    capsys.readouterr()
    assert main(["collections", "list", "--json"]) == 0
    listed = {c["name"]: c for c in _json(capsys)}
    assert set(listed) == {"chatbot", "empty-one"}
    assert listed["empty-one"] == {
        "name": "empty-one", "sources": 0, "chunks": 0, "embedding_model": "fake-hashing-256"
    }
    assert main(["--collection", "empty-one", "collections"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"\*\W+empty-one", table) and not re.search(r"\*\W+chatbot", table)
    # Without --yes and without a terminal to confirm on, nothing is deleted.
    assert main(["collections", "delete", "empty-one"]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert main(["collections", "delete", "empty-one", "--yes"]) == 0
    assert main(["collections", "delete", "empty-one", "--yes"]) == 2
    assert main(["collections", "--json"]) == 0
    assert [c["name"] for c in _json(capsys)] == ["chatbot"]


def test_cli_delete_asks_for_the_name_on_a_terminal(
    cli: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["collections", "create", "keep-me"]) == 0
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["no", "keep-me"])
    monkeypatch.setattr("builtins.input", lambda *args: next(answers))
    assert main(["collections", "delete", "keep-me"]) == 1
    assert "keep-me" in names(Settings(data_dir=cli, _env_file=None))  # type: ignore[call-arg]
    assert main(["collections", "delete", "keep-me"]) == 0
    assert "keep-me" not in names(Settings(data_dir=cli, _env_file=None))  # type: ignore[call-arg]


def test_cli_doctor_and_ui_take_the_collection(
    cli: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--collection", "work", "ingest", "other"]) == 0
    capsys.readouterr()
    assert main(["doctor", "--json", "--collection", "work"]) == 0
    checks = {c["name"]: c for c in _json(capsys)["checks"]}
    assert checks["collection"]["detail"] == "'work': 1 chunks, fake-hashing-256"
    started: list[dict[str, str]] = []

    def call(command: list[str], env: dict[str, str]) -> int:
        started.append(env)
        return 0

    monkeypatch.setattr(subprocess, "call", call)
    assert main(["ui", "--collection", "work", "--port", "1"]) == 0
    assert started[0]["CHATBOT_COLLECTION"] == "work"  # the app's first choice


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, f"{os.getpid()}\\n".encode())
open(sys.argv[2], "w").close()
sys.stdin.read()
"""


@contextlib.contextmanager
def another_writer(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the data dir's write lock until its stdin closes."""
    held = tmp_path / "held"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_path(settings)), str(held)],
        stdin=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not held.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "no writer started"
            time.sleep(0.02)
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)


def test_delete_refuses_at_once_while_another_process_writes(
    fake_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = Chatbot(fake_settings)
    bot.create_collection("busy-one")
    with another_writer(fake_settings, tmp_path) as proc:
        with pytest.raises(IndexBusyError) as caught:
            bot.delete_collection("busy-one")
        message = str(caught.value)
        assert f"process {proc.pid}" in message and "waited 0 s" in message  # no waiting
        _fake_env(monkeypatch, fake_settings.data_dir)
        assert main(["collections", "delete", "busy-one", "--yes"]) == 2
        assert "being written by" in capsys.readouterr().err
        assert "busy-one" in names(fake_settings)
    assert bot.delete_collection("busy-one").name == "busy-one"


# --- the HTTP API -----------------------------------------------------------------------------
@pytest.fixture
def client(two: Chatbot) -> Iterator[TestClient]:
    with TestClient(create_app(two)) as test_client:
        yield test_client


def _ask(client: TestClient, question: str, **extra: object) -> dict[str, Any]:
    body = {"model": "chatbot", "messages": [{"role": "user", "content": question}], **extra}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json()["chatbot"])


def test_server_chooses_the_collection_per_request(client: TestClient) -> None:
    assert _cited(_ask(client, FERRY_QUESTION, collection="work")) == {FERRY}
    assert _cited(_ask(client, FERRY_QUESTION, model="work")) == {FERRY}  # the model id
    assert _cited(_ask(client, XI_QUESTION)) == {SEED}  # the default
    assert _cited(_ask(client, FERRY_QUESTION)) <= {SEED}
    models = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert models == ["chatbot", "work"]
    assert client.get("/v1/models/work").json()["id"] == "work"
    listed = client.get("/v1/collections").json()
    assert listed["default"] == "chatbot"
    assert [(c["name"], c["sources"]) for c in listed["data"]] == [("chatbot", 1), ("work", 1)]


def test_server_streams_from_the_chosen_collection(client: TestClient) -> None:
    body = {
        "model": "chatbot", "stream": True, "collection": "work",
        "messages": [{"role": "user", "content": FERRY_QUESTION}],
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    assert _cited(json.loads(events[-1])["chatbot"]) == {FERRY}


def test_server_documents_and_summaries_per_collection(client: TestClient) -> None:
    def listed(collection: str | None = None) -> list[str]:
        params = {"collection": collection} if collection else {}
        return [d["source"] for d in client.get("/v1/documents", params=params).json()["data"]]

    assert listed() == [SEED] and listed("work") == [FERRY]
    files = [("files", ("bikes.txt", b"Bicycles ride free on the morning ferry."))]
    report = client.post("/v1/documents", params={"collection": "work"}, files=files).json()
    assert report["added"] == 1
    assert listed("work") == [FERRY, "uploads/bikes.txt"] and listed() == [SEED]
    summary = client.post("/v1/summaries", json={"collection": "work", "sources": [FERRY]})
    assert {c["source"] for c in summary.json()["citations"]} == {FERRY}
    gone = client.delete("/v1/documents/uploads/bikes.txt", params={"collection": "work"})
    assert gone.json()["chunks"] == 1 and listed("work") == [FERRY]
    missing = client.delete("/v1/documents/uploads/bikes.txt")  # not in the default either
    assert missing.status_code == 404


def test_server_unknown_or_invalid_collection_is_a_clear_error(client: TestClient) -> None:
    question = [{"role": "user", "content": XI_QUESTION}]
    unknown = client.post(
        "/v1/chat/completions", json={"model": "chatbot", "messages": question,
                                      "collection": "nowhere"},
    )
    assert unknown.status_code == 404
    error = unknown.json()["error"]
    assert error["code"] == "not_found" and "no collection 'nowhere'" in error["message"]
    assert "chatbot, work" in error["message"]
    assert client.post(
        "/v1/chat/completions", json={"model": "nowhere", "messages": question}
    ).status_code == 404
    invalid = client.get("/v1/documents", params={"collection": "<script>x</script>"})
    assert invalid.status_code == 400 and "<script>" not in invalid.text
    assert invalid.json()["error"]["type"] == "invalid_request_error"
    upload = client.post(
        "/v1/documents", params={"collection": "nowhere"},
        files=[("files", ("a.txt", b"text"))],
    )
    assert upload.status_code == 404  # no collection is made by a typo
    assert client.get("/v1/collections").json()["data"][-1]["name"] == "work"
    schema = client.get("/openapi.json").json()
    assert "collection" in schema["components"]["schemas"]["ChatRequest"]["properties"]
    assert "/v1/collections" in schema["paths"]


# --- the app ----------------------------------------------------------------------------------
@pytest.fixture
def app_two(two: Chatbot, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    for name in list(os.environ):
        if name.startswith("CHATBOT_"):
            monkeypatch.delenv(name)
    _fake_env(monkeypatch, two.settings.data_dir)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    yield at
    st.cache_resource.clear()


def _page(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def _documents(at: AppTest) -> list[str]:
    return [m.value.strip("*").replace("\\", "") for m in at.main.markdown]


def test_app_selector_switches_documents_and_chat(app_two: AppTest) -> None:
    at = app_two
    selector = at.sidebar.selectbox(key="collection")
    assert selector.options == ["chatbot", "work"] and selector.value == "chatbot"
    at.chat_input[0].set_value(FERRY_QUESTION).run()
    assert not at.exception, at.exception
    assert FERRY not in str(at.main)
    at.sidebar.selectbox(key="collection").set_value("work").run()
    assert not at.exception, at.exception
    assert not at.chat_message  # another collection starts a new conversation
    at.chat_input[0].set_value(FERRY_QUESTION).run()
    assert not at.exception, at.exception
    [expander] = at.chat_message[-1].expander
    assert FERRY in expander.label.replace("\\", "")
    _page(at, "Documents")
    assert FERRY in _documents(at) and SEED not in _documents(at)
    at.sidebar.selectbox(key="collection").set_value("chatbot").run()
    assert SEED in _documents(at) and FERRY not in _documents(at)


def test_app_creates_a_collection_and_selects_it(app_two: AppTest) -> None:
    at = _page(app_two, "Documents")
    at.text_input(key="new_collection").set_value("bad name").run()
    at.button(key="create_collection").click().run()
    assert "3 to 63 characters" in at.main.error[0].value
    at.text_input(key="new_collection").set_value("fresh").run()
    at.button(key="create_collection").click().run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="collection").value == "fresh"
    assert at.sidebar.selectbox(key="collection").options == ["chatbot", "fresh", "work"]
    assert any("No documents indexed yet" in i.value for i in at.main.info)
    assert "fresh" in at.success[0].value
