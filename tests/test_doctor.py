"""`chatbot doctor`: a healthy install exits 0; each broken piece exits non-zero and names the fix,
and no secret ever reaches the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chatbot.cli import main
from chatbot.config import Settings
from chatbot.doctor import check_gguf, healthy, run_doctor
from chatbot.local_models import GGUF_NAME
from chatbot.pipeline import Pipeline

KEY = "sk-test-doctor-SECRET-0123456789"


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_EMBEDDINGS_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, dict[str, str]]]:
    code = main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] == (code == 0)
    return code, {check["name"]: check for check in report["checks"]}


def test_a_healthy_install_exits_0(fake_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = _doctor(capsys)
    assert code == 0
    for name in ("python", "lock", "html extractor", "pdf extractor", "docx extractor",
                 "settings", "data dir", "chat model", "embeddings", "chroma", "collection"):
        assert checks[name]["status"] in ("ok", "note"), checks[name]
    assert checks["collection"]["status"] == "note"  # nothing ingested yet: fine, says how


def test_the_text_report_has_a_line_per_check(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "ready for `make chat`"
    assert any(line.startswith("ok   lock:") for line in lines)


def test_a_missing_extractor_fails_and_names_the_fix(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "lxml_html_clean", None)  # as if it were not installed
    code, checks = _doctor(capsys)
    assert code == 1
    assert checks["html extractor"]["status"] == "fail"
    assert "lxml_html_clean" in checks["html extractor"]["detail"]
    assert "make install" in checks["html extractor"]["fix"]
    assert checks["pdf extractor"]["status"] == "ok"


def test_a_truncated_gguf_fails_and_names_the_fix(tmp_path: Path) -> None:
    settings = Settings(
        llm_provider="local", embeddings_provider="fake", data_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
    )
    model = tmp_path / "models" / GGUF_NAME
    model.parent.mkdir()
    model.write_bytes(b"GGUF" + b"\0" * 1000)
    check = check_gguf(settings)
    assert check.status == "fail" and "1004 bytes" in check.detail
    assert "chatbot models" in check.fix


def test_a_truncated_gguf_makes_the_command_fail(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "local")
    model = fake_env / "data" / "models" / GGUF_NAME
    model.parent.mkdir(parents=True)
    model.write_bytes(b"GGUF")
    code, checks = _doctor(capsys)
    assert code == 1 and checks["model file"]["status"] == "fail"
    assert checks["chat model"]["status"] == "note"  # not tried on a broken file


def test_an_unassembled_gguf_is_a_note_when_the_slices_are_installed(tmp_path: Path) -> None:
    settings = Settings(
        llm_provider="local", embeddings_provider="fake", data_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
    )
    check = check_gguf(settings)
    assert check.status == "note" and "chatbot models" in check.detail


def test_an_unreachable_chroma_host_fails_and_names_the_fix(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chatbot.local_models import free_port

    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(free_port()))  # nobody listens there
    code, checks = _doctor(capsys)
    assert code == 1 and checks["chroma"]["status"] == "fail"
    assert "chroma run" in checks["chroma"]["fix"] and "CHROMA_HOST" in checks["chroma"]["fix"]


def test_an_invalid_env_file_is_reported_without_the_key(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (fake_env / ".env").write_text(f"OPENAI_API_KEY={KEY}\nCHATBOT_K=lots\n")
    code = main(["doctor"])
    text = capsys.readouterr()
    assert code == 1
    assert "CHATBOT_K" in text.out and ".env" in text.out
    assert KEY not in text.out + text.err
    code, checks = _doctor(capsys)
    assert code == 1 and checks["settings"]["status"] == "fail"
    assert KEY not in json.dumps(checks)


def test_a_secret_in_any_message_is_scrubbed(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a check whose message quotes a secret (a URL with the key in it) prints ***."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("CHROMA_HOST", f"{KEY}.invalid")
    checks = run_doctor(lambda: Settings(_env_file=None))  # type: ignore[call-arg]
    assert not healthy(checks)
    assert all(KEY not in c.detail + c.fix for c in checks)


def test_a_collection_built_with_another_embedding_model_fails(
    fake_settings: Settings, seed_dir: Path
) -> None:
    Pipeline.build(fake_settings).index.ingest([seed_dir])
    other = fake_settings.with_overrides(embedding_model="another-model")
    checks = {c.name: c for c in run_doctor(lambda: other)}
    assert checks["collection"].status == "fail"
    assert "fake-hashing-256" in checks["collection"].detail
    assert "--rebuild" in checks["collection"].fix
