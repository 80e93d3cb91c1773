"""A planted API key never shows up in what the program prints, writes or reports: settings
reprs and dumps, error messages (even when the server quotes the key back), CLI output of every
command on good and failing servers, files under the data dir, exported chats, eval reports."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fault_server import FaultServer

from chatbot.answer import ask
from chatbot.cli import main
from chatbot.config import Settings
from chatbot.pipeline import Pipeline
from chatbot.service_errors import ModelServiceError

KEY = "sk-planted-SECRET123"
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
QUESTION = "Which country does Xi visit before the SCO summit?"


def assert_clean(text: str, where: str) -> None:
    assert KEY not in text, f"the API key leaked into {where}"
    assert "SECRET123" not in text, f"part of the API key leaked into {where}"


def test_settings_never_show_the_key() -> None:
    settings = Settings(
        openai_api_key=KEY, embeddings_provider="fake", _env_file=None  # type: ignore[call-arg]
    )
    copy = settings.with_overrides(k=3)
    for text, where in [
        (repr(settings), "repr"),
        (str(settings), "str"),
        (settings.model_dump_json(), "model_dump_json"),
        (json.dumps(settings.model_dump(mode="json")), "model_dump(mode=json)"),
        (repr(settings.model_dump()), "repr(model_dump())"),
        (repr(copy), "repr of with_overrides()"),
    ]:
        assert_clean(text, where)
    assert copy.openai_api_key is not None and copy.openai_api_key.get_secret_value() == KEY


@pytest.fixture
def seeded_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    settings = Settings(
        llm_provider="fake", embeddings_provider="fake", data_dir=data,
        _env_file=None,  # type: ignore[call-arg]
    )
    Pipeline.build(settings).index.ingest([SEEDS])
    return data


@pytest.mark.parametrize("fault", ["401", "429", "500", "reset", "malformed"])
def test_error_messages_never_quote_the_key(seeded_data: Path, fault: str) -> None:
    with FaultServer([fault], retry_after=0.1) as server:
        settings = Settings(
            llm_provider="openai", embeddings_provider="fake", openai_api_key=KEY,
            openai_base_url=server.base_url, max_retries=1, request_timeout=2,
            data_dir=seeded_data, _env_file=None,  # type: ignore[call-arg]
        )
        with pytest.raises(ModelServiceError) as caught:
            ask(Pipeline.build(settings), QUESTION)
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    assert_clean(str(caught.value), f"the {fault} error message")
    assert_clean(repr(caught.value), f"the {fault} error repr")


# --- every CLI command, on good and failing servers --------------------------------------------
SUITE = """\
name: secrets
documents: [{seeds}]
cases:
  - id: visit
    question: {question}
    expect: {{contains: Kazakhstan}}
  - id: second
    question: Who is the spokesman?
"""


Run = Callable[..., int]


@pytest.fixture
def run_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> Iterator[Run]:
    """run(base_url, *args, stdin=..., **env) -> exit code of `chatbot *args` (in-process);
    afterwards everything printed and every file under tmp_path is searched for the key."""
    outputs: list[tuple[str, str]] = []

    def run(base_url: str, *args: str, stdin: str = "", **env: str) -> int:
        values = {
            "CHATBOT_LLM_PROVIDER": "openai", "CHATBOT_EMBEDDINGS_PROVIDER": "openai",
            "CHATBOT_DATA_DIR": str(tmp_path / "data"), "CHATBOT_MAX_RETRIES": "1",
            "CHATBOT_REQUEST_TIMEOUT": "2", "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": base_url,
            **env,
        }
        with monkeypatch.context() as patch:
            for name, value in values.items():
                patch.setenv(name, value)
            patch.setattr("sys.stdin", io.StringIO(stdin))
            try:
                code = main(list(args))
            except BaseException as exc:  # a crash is a failure, but check its text too
                outputs.append((f"the crash of `chatbot {args[0]}`", repr(exc)))
                raise
            finally:
                captured = capfd.readouterr()
                outputs.append((f"`chatbot {' '.join(args)}` on {base_url}",
                                captured.out + captured.err))
        assert "Traceback" not in outputs[-1][1]
        return code

    yield run
    for where, text in outputs:
        assert_clean(text, where)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"the API key was written to {path}"


def test_cli_output_files_and_reports_never_contain_the_key(run_cli: Run, tmp_path: Path) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(seeds=tmp_path / "seeds", question=QUESTION))
    fake_data = {"CHATBOT_EMBEDDINGS_PROVIDER": "fake", "CHATBOT_DATA_DIR": str(tmp_path / "f")}
    with FaultServer(["ok"]) as good:
        assert run_cli(good.base_url, "ingest", "seeds") == 0
        assert run_cli(good.base_url, "ingest", "seeds", **fake_data) == 0
        assert run_cli(good.base_url, "sources", "--json") == 0
        assert run_cli(good.base_url, "ask", QUESTION, "--json") == 0
        assert run_cli(good.base_url, "ask", QUESTION) == 0
        assert run_cli(good.base_url, "chat", stdin=f"{QUESTION}\nAnd then?\n") == 0
        code = run_cli(
            good.base_url, "eval", str(suite), "--json", "report.json", "--html", "report.html"
        )
        # The server's one canned reply lacks "Kazakhstan": case visit fails, case second
        # (no expectations) passes, so the run exits 1 with a report of both.
        report = json.loads((tmp_path / "report.json").read_text())
        assert code == 1 and (report["passed"], report["failed"]) == (1, 1)
        visit = next(c for c in report["cases"] if c["id"] == "visit")
        assert [c["name"] for c in visit["checks"] if not c["passed"]] == ["contains"]
    for fault in ("401", "500", "reset", "malformed"):
        with FaultServer([fault]) as bad:
            assert run_cli(bad.base_url, "ask", QUESTION) == 2  # the query embedding fails
            assert run_cli(bad.base_url, "ask", QUESTION, **fake_data) == 2  # the chat fails
    with FaultServer(["401"]) as bad:
        fresh = {"CHATBOT_DATA_DIR": str(tmp_path / "fresh")}
        assert run_cli(bad.base_url, "ingest", "seeds", **fresh) == 2
        assert run_cli(bad.base_url, "chat", stdin=f"{QUESTION}\n", **fake_data) == 0
        code = run_cli(
            bad.base_url, "eval", str(suite), "--json", "failed.json", "--html", "failed.html",
            **fake_data,
        )
        assert code == 1 and "rejected the API key" in (tmp_path / "failed.json").read_text()
    with FaultServer() as gone:
        closed = gone.base_url  # nobody listens there afterwards
    assert run_cli(closed, "ask", QUESTION, **fake_data) == 2
    assert run_cli("not a url", "ask", QUESTION, **fake_data) == 2
    assert run_cli(closed, "ask", QUESTION, CHATBOT_MAX_RETRIES="99") == 2  # invalid setting


def test_exported_chat_never_contains_the_key(seeded_data: Path) -> None:
    from chatbot.app import exporting

    with FaultServer(["ok"]) as server:
        settings = Settings(
            llm_provider="openai", embeddings_provider="fake", openai_api_key=KEY,
            openai_base_url=server.base_url, data_dir=seeded_data,
            _env_file=None,  # type: ignore[call-arg]
        )
        answers = [ask(Pipeline.build(settings), QUESTION)]
    assert_clean(exporting.to_markdown(answers), "the Markdown export")
    assert_clean(exporting.to_json(answers), "the JSON export")


# --- issue 13 item 10: settings errors never quote the input (which holds the key) ---------------
def test_invalid_settings_errors_never_show_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from pydantic import ValidationError
    from streamlit.testing.v1 import AppTest

    from chatbot.config import describe_settings_error, get_settings

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("CHATBOT_CHUNK_SIZE", "100")  # below the default overlap (120): invalid
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ValidationError) as caught:
        get_settings()
    assert KEY in repr(caught.value.errors())  # pydantic's own errors carry the input
    described = describe_settings_error(caught.value)
    assert_clean(described, "describe_settings_error")
    assert "chunk_overlap must be smaller than chunk_size" in described

    assert main(["sources"]) == 2
    captured = capsys.readouterr()
    assert_clean(captured.out + captured.err, "the CLI's settings error")
    assert "chunk_overlap must be smaller than chunk_size" in captured.err

    app = Path(__file__).resolve().parent.parent / "chatbot" / "app" / "main.py"
    at = AppTest.from_file(str(app), default_timeout=60)
    at.run()
    shown = " ".join(str(e.value) for e in at.error).replace("\\", "")  # Markdown escapes
    assert "The settings are invalid" in shown and "chunk_overlap" in shown
    assert_clean(shown, "the app's settings banner")
