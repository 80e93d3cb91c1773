"""The answer pipeline against a misbehaving OpenAI-compatible server (tests/fault_server.py).

Retryable faults (429, 5xx, timeouts, refused or reset connections) are retried with backoff; what
still fails reaches the caller as one `ModelServiceError` naming the setting to check, the CLI
prints it on one line without a traceback, and the conversation is kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fault_server import FaultServer

from chatbot.answer import Turn, ask, stream_answer
from chatbot.config import Settings
from chatbot.models import Answer
from chatbot.pipeline import Pipeline
from chatbot.service_errors import ModelServiceError, explain

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
QUESTION = "Which country does Xi visit before the SCO summit?"
KEY = "sk-test-fault-0000"
REPLY = "Xi visits Kazakhstan first [1]."
RETRIES = 2


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index of the seeds (fake embeddings) shared by every test of this module."""
    data = tmp_path_factory.mktemp("fault-data")
    settings = Settings(
        llm_provider="fake", embeddings_provider="fake", data_dir=data, _env_file=None  # type: ignore[call-arg]
    )
    Pipeline.build(settings).index.ingest([SEEDS])
    return data


def openai_settings(data_dir: Path, server: FaultServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "llm_provider": "openai",
        "embeddings_provider": "fake",
        "openai_base_url": server.base_url,
        "openai_api_key": KEY,
        "request_timeout": 1.0,
        "max_retries": RETRIES,
        "data_dir": data_dir,
        # These tests script the server request by request; the answer check's own request is
        # covered in test_answerable.py.
        "answer_check": False,
    }
    values.update(overrides)
    return Settings(**values, _env_file=None)  # type: ignore[arg-type]


Serve = Callable[..., tuple[Pipeline, FaultServer]]


@pytest.fixture
def serve(data_dir: Path) -> Iterator[Serve]:
    """serve(script, **server_options) -> (pipeline, server); servers stop after the test."""
    servers: list[FaultServer] = []

    def start(
        script: list[str], timeout: float = 1.0, **options: float
    ) -> tuple[Pipeline, FaultServer]:
        server = FaultServer(script, reply=REPLY, **options).__enter__()
        servers.append(server)
        settings = openai_settings(data_dir, server, request_timeout=timeout)
        return Pipeline.build(settings), server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def test_normal_server_answers_and_sees_the_key_only_in_the_header(serve: Serve) -> None:
    pipeline, server = serve(["ok"])
    answer = ask(pipeline, QUESTION)
    assert answer.answer.startswith("Xi visits Kazakhstan first")
    assert answer.usage["completion_tokens"] > 0
    assert len(server.requests) == 1
    seen = server.requests[0]
    assert seen.body["stream"] is True
    assert seen.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(("fault", "min_gap"), [("429", 1.0), ("500", 0.3)])
def test_transient_fault_is_retried_with_backoff_then_succeeds(
    serve: Serve, fault: str, min_gap: float
) -> None:
    # 429 carries Retry-After: 1, which the client must honour; 500 gets exponential backoff
    # (0.5 s minus at most 25 % jitter).
    # The deadline (CHATBOT_REQUEST_TIMEOUT) must leave room for the backoff.
    pipeline, server = serve([fault, "ok"], timeout=10, retry_after=1)
    answer = ask(pipeline, QUESTION)
    assert answer.answer.startswith("Xi visits Kazakhstan first")
    assert [r.fault for r in server.requests] == [fault, "ok"]
    gap = server.requests[1].at - server.requests[0].at
    assert gap >= min_gap


@pytest.mark.parametrize(
    ("fault", "requests", "message"),
    [
        ("429", RETRIES + 1, "rate limiting requests (still after 2 retries)"),
        ("500", RETRIES + 1, "server error (still after 2 retries)"),
        # One deadline: a hung attempt uses it up, no retry gets another full timeout.
        ("slow", 1, "did not answer within 1 s"),
        # Bytes already reached the user: a stream cut mid-way is reported, not replayed.
        ("reset", 1, "lost or could not open the connection"),
        ("malformed", 1, "malformed response"),
    ],
)
def test_persistent_fault_is_one_clear_error_within_bounded_time(
    serve: Serve, fault: str, requests: int, message: str
) -> None:
    timeout = 1.0 if fault == "slow" else 10.0  # room for the backoff of 429 and 500
    pipeline, server = serve([fault], timeout=timeout, retry_after=0.2, slow_seconds=60)
    started = time.monotonic()
    with pytest.raises(ModelServiceError) as caught:
        ask(pipeline, QUESTION)
    elapsed = time.monotonic() - started
    assert type(caught.value) is ModelServiceError
    assert message in str(caught.value)
    assert "OPENAI_BASE_URL" in str(caught.value) or "CHATBOT_" in str(caught.value) or (
        fault in ("429", "500")
    )
    if fault == "slow":
        assert "CHATBOT_REQUEST_TIMEOUT" in str(caught.value)
    assert len(server.requests) == requests
    # The client gave up long before the slow server would have answered.
    assert elapsed < 60


def test_mid_stream_reset_after_first_token(serve: Serve) -> None:
    pipeline, _ = serve(["reset"])
    seen: list[str] = []
    with pytest.raises(ModelServiceError, match="connection"):
        for item in stream_answer(pipeline, QUESTION):
            assert not isinstance(item, Answer)
            seen.append(item)
    assert seen == ["Xi"]


@pytest.mark.parametrize("fault", ["500", "reset", "malformed"])
def test_failed_follow_up_leaves_the_history_untouched(serve: Serve, fault: str) -> None:
    # With history the first model call is the (non-streaming) condense step.
    pipeline, server = serve([fault])
    history = [Turn("When did Xi last visit Kazakhstan?", "In 2017 [1].")]
    before = [Turn(t.question, t.answer) for t in history]
    with pytest.raises(ModelServiceError):
        ask(pipeline, "What did he attend then?", history)
    assert history == before
    assert "stream" not in server.requests[0].body or not server.requests[0].body["stream"]


def test_unreachable_server_is_retried_then_one_error(data_dir: Path) -> None:
    with FaultServer() as server:
        port = server.port  # free a port that nobody listens on afterwards
    settings = openai_settings(data_dir, server, openai_base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelServiceError, match="could not open the connection"):
        ask(Pipeline.build(settings), QUESTION)


def test_explain_never_echoes_the_exception_text_or_url_credentials(data_dir: Path) -> None:
    settings = Settings(
        llm_provider="openai", embeddings_provider="fake", openai_api_key=KEY,
        openai_base_url="http://user:sk-in-url@127.0.0.1:9/v1", data_dir=data_dir,
        _env_file=None,  # type: ignore[call-arg]
    )
    error = explain(RuntimeError(f"header Bearer {KEY}"), settings)
    assert KEY not in str(error) and "sk-in-url" not in str(error)
    assert str(error) == "the model service failed: RuntimeError"
    import openai

    error = explain(openai.APIConnectionError(request=_request()), settings)
    assert "http://127.0.0.1:9/v1" in str(error) and "sk-in-url" not in str(error)


def _request() -> object:
    import httpx2

    return httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


# --- the CLI ------------------------------------------------------------------------------------
def _cli_env(data_dir: Path, base_url: str, **extra: str) -> dict[str, str]:
    """The CLI on the fault server; CHATBOT_REQUEST_TIMEOUT 10 s leaves room for a retry's
    backoff on a loaded machine (the slow fault tests pass a short one). No warm start: its
    background request would take a step of the fault script at an unknown moment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(
        CHATBOT_LLM_PROVIDER="openai",
        CHATBOT_EMBEDDINGS_PROVIDER="fake",
        CHATBOT_DATA_DIR=str(data_dir),
        CHATBOT_REQUEST_TIMEOUT="10",
        CHATBOT_MAX_RETRIES="1",
        CHATBOT_WARM_START="false",
        CHATBOT_ANSWER_CHECK="false",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY=KEY,
        COLUMNS="400",
    )
    env.update(extra)
    return env


def _chatbot(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )


def test_cli_ask_exits_non_zero_with_one_line_and_no_traceback(data_dir: Path) -> None:
    with FaultServer(["500"]) as server:
        result = _chatbot("ask", QUESTION, env=_cli_env(data_dir, server.base_url))
        assert len(server.requests) == 2  # CHATBOT_MAX_RETRIES=1
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "model service server error, retrying (2/2)…",  # shown while it happened
        f"error: {server.base_url} had a server error (still after 1 retries)",
    ]


def test_cli_ask_mid_stream_reset_ends_the_partial_line(data_dir: Path) -> None:
    with FaultServer(["reset"], reply=REPLY) as server:
        result = _chatbot("ask", QUESTION, env=_cli_env(data_dir, server.base_url))
    assert result.returncode == 2
    assert result.stdout == "Xi\n"
    assert result.stderr.startswith("error: lost or could not open the connection")
    assert "Traceback" not in result.stderr


def test_cli_chat_keeps_the_conversation_after_a_failed_turn(data_dir: Path) -> None:
    first, failed, third = QUESTION, "What did he attend there?", "When did he arrive?"
    # q1 answers; q2's condense call fails twice (1 retry); q3's condense call succeeds.
    script = ["ok", "500", "500", "ok", "ok"]
    with FaultServer(script, reply=REPLY) as server:
        result = _chatbot(
            "chat", env=_cli_env(data_dir, server.base_url), stdin=f"{first}\n{failed}\n{third}\n"
        )
        bodies = [r.body for r in server.requests]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "error: " in result.stderr and "server error" in result.stderr
    condense_of_third = bodies[3]["messages"][-1]["content"]
    assert f"User: {first}" in condense_of_third
    assert failed not in condense_of_third
    assert f"Last question: {third}" in condense_of_third


# --- issue 13 item 2: one deadline per answer, and the user sees retries while they happen -------
@pytest.mark.timeout(60)  # a hang guard, not a performance assertion
def test_a_hung_server_gets_one_attempt_within_the_deadline(data_dir: Path) -> None:
    with FaultServer(["slow"], reply=REPLY, slow_seconds=120) as server:
        settings = openai_settings(data_dir, server, request_timeout=1.0, max_retries=2)
        with pytest.raises(ModelServiceError) as caught:
            ask(Pipeline.build(settings), QUESTION)
        assert len(server.requests) == 1  # no retry can fit in the deadline that ran out
    assert "CHATBOT_REQUEST_TIMEOUT" in str(caught.value)
    assert "did not answer within 1 s" in str(caught.value)


@pytest.mark.timeout(60)
def test_condense_and_answer_share_one_deadline(data_dir: Path) -> None:
    with FaultServer(["slow"], reply=REPLY, slow_seconds=120) as server:
        settings = openai_settings(data_dir, server, request_timeout=1.0, max_retries=2)
        with pytest.raises(ModelServiceError, match="CHATBOT_REQUEST_TIMEOUT"):
            ask(Pipeline.build(settings), "And then?", [Turn(QUESTION, "Kazakhstan [1].")])
        assert len(server.requests) == 1


def test_retries_are_reported_while_they_happen(serve: Serve) -> None:
    pipeline, server = serve(["500", "429", "ok"], timeout=10, retry_after=0.1)
    seen: list[str] = []
    items = list(stream_answer(pipeline, QUESTION, status=seen.append))
    assert isinstance(items[-1], Answer) and items[-1].answer.startswith("Xi visits")
    assert [r.fault for r in server.requests] == ["500", "429", "ok"]
    assert len(seen) == 2
    assert "server error" in seen[0] and "retrying (2/3)" in seen[0]
    assert "rate limiting" in seen[1] and "retrying (3/3)" in seen[1]


def test_a_slow_service_is_reported_while_the_answer_waits(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatbot import model_calls

    monkeypatch.setattr(model_calls, "SLOW_NOTICE_S", 0.2)
    with FaultServer(["slow"], reply=REPLY, slow_seconds=1.5) as server:
        settings = openai_settings(data_dir, server, request_timeout=30.0)
        seen: list[str] = []
        items = list(stream_answer(Pipeline.build(settings), QUESTION, status=seen.append))
    assert isinstance(items[-1], Answer) and not items[-1].abstained
    assert seen and all("model service slow" in s for s in seen)
    assert "no answer yet after" in seen[0]


@pytest.mark.timeout(60)
def test_refused_connection_fails_without_waiting_for_the_timeout(data_dir: Path) -> None:
    with FaultServer() as server:
        port = server.port  # nobody listens there afterwards
    settings = openai_settings(
        data_dir, server, openai_base_url=f"http://127.0.0.1:{port}/v1", request_timeout=600.0
    )
    seen: list[str] = []
    with pytest.raises(ModelServiceError, match="could not open the connection"):
        list(stream_answer(Pipeline.build(settings), QUESTION, status=seen.append))
    assert [s.split(",")[-1].strip() for s in seen] == ["retrying (2/3)…", "retrying (3/3)…"]


def test_cli_shows_retries_and_the_deadline_error(data_dir: Path) -> None:
    with FaultServer(["500", "ok"], reply=REPLY) as server:
        result = _chatbot("ask", QUESTION, env=_cli_env(data_dir, server.base_url))
    assert result.returncode == 0, result.stderr
    assert "server error, retrying (2/2)…" in result.stderr
    with FaultServer(["slow"], reply=REPLY, slow_seconds=60) as server:
        env = _cli_env(data_dir, server.base_url, CHATBOT_REQUEST_TIMEOUT="1")
        result = _chatbot("ask", QUESTION, env=env)
        assert len(server.requests) == 1
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "CHATBOT_REQUEST_TIMEOUT" in result.stderr
