"""Oversized and absurd inputs get one clear error (or a skip with its reason), never a crash or
a hang: long questions, k of 0 or 10**9, files and uploads over CHATBOT_MAX_FILE_MB."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chatbot.answer import AnswerError, ask, stream_answer
from chatbot.cli import main
from chatbot.config import Settings
from chatbot.loaders import LoadLimits
from chatbot.pipeline import Pipeline

QUESTION = "Which country does Xi visit before the SCO summit?"


def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data: Path, *args: str,
    **env: str,
) -> tuple[int, str]:
    """`chatbot *args` in-process on the fake providers; returns (exit code, stderr as one line)."""
    values = {
        "CHATBOT_LLM_PROVIDER": "fake", "CHATBOT_EMBEDDINGS_PROVIDER": "fake",
        "CHATBOT_DATA_DIR": str(data), **env,
    }
    with monkeypatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        code = main(list(args))
    return code, " ".join(capsys.readouterr().err.split())


# --- questions -----------------------------------------------------------------------------------
def test_question_length_limit_is_exact_and_named(seeded: Pipeline) -> None:
    limit = seeded.settings.max_question_chars
    padded = (QUESTION + " ") * (limit // len(QUESTION) + 1)
    at_limit = padded[:limit].strip()
    assert ask(seeded, at_limit).question == at_limit
    with pytest.raises(AnswerError) as caught:
        ask(seeded, "x" * (limit + 1))
    assert f"the limit is {limit} (CHATBOT_MAX_QUESTION_CHARS)" in str(caught.value)
    with pytest.raises(AnswerError, match="limit"):
        ask(seeded, "y" * 10_000_000)  # 10 MB: rejected before anything is embedded


@pytest.mark.parametrize("question", ["", "   ", "\n\t \n", " " * 100_000])
def test_empty_questions(seeded: Pipeline, question: str) -> None:
    with pytest.raises(AnswerError, match="empty"):
        ask(seeded, question)


def test_control_characters_in_a_question_are_just_text(seeded: Pipeline) -> None:
    answer = ask(seeded, "Kazakhstan\x00\x1b[31m visit\u202e?")
    assert answer.question.startswith("Kazakhstan")


@pytest.mark.parametrize("k", [0, -1, 51, 10**9, -(10**18)])
def test_absurd_k_is_refused_before_any_work(seeded: Pipeline, k: int) -> None:
    items = stream_answer(seeded, QUESTION, k=k)
    with pytest.raises(AnswerError, match=f"k must be between 1 and 50, got {k}"):
        next(items)


def test_k_larger_than_the_index_is_fine(seeded: Pipeline) -> None:
    answer = ask(seeded, QUESTION, k=50)
    assert not answer.abstained and answer.citations


@pytest.mark.parametrize("value", [0, -3, 51, 10**9])
def test_absurd_k_in_settings_is_a_validation_error(value: int) -> None:
    with pytest.raises(ValidationError, match="k"):
        Settings(k=value, _env_file=None)  # type: ignore[call-arg]


def test_cli_rejects_long_questions_and_absurd_k_in_one_line(
    seeded: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = seeded.settings.data_dir
    code, err = cli(monkeypatch, capsys, data, "ask", "x" * 5000)
    assert code == 2 and err.startswith("error: the question is 5000 characters")
    for k in ("0", "1000000000", "-5"):
        code, err = cli(monkeypatch, capsys, data, "ask", QUESTION, "--k", k)
        assert code == 2 and err == f"error: k must be between 1 and 50, got {k}"
    code, err = cli(monkeypatch, capsys, data, "ask", QUESTION, CHATBOT_K="1000000000")
    assert code == 2 and err.startswith("error: setting CHATBOT_K:")
    code, err = cli(monkeypatch, capsys, data, "ask", "x" * 50, CHATBOT_MAX_QUESTION_CHARS="20")
    assert code == 2 and "the limit is 20" in err
    assert "Traceback" not in err


# --- files ---------------------------------------------------------------------------------------
def sparse_file(path: Path, mib: float) -> Path:
    """A file of `mib` MiB that takes no disk space (and would take long to read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(int(mib * 2**20))
    return path


def test_files_over_the_limit_are_skipped_without_being_read(
    fake_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    sparse_file(folder / "huge.txt", fake_settings.max_file_mb + 1)
    (folder / "small.txt").write_text("The Riverside Museum opens at 9 am.", encoding="utf-8")
    report = Pipeline.build(fake_settings).index.ingest([Path("docs")])
    statuses = {f.source: (f.status, f.reason) for f in report.files}
    assert statuses["docs/small.txt"][0] == "added"
    status, reason = statuses["docs/huge.txt"]
    assert status == "skipped" and "too large" in reason and "51.0 MiB" in reason


def test_the_limit_is_a_setting(fake_settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("word " * 400, encoding="utf-8")  # 2000 bytes
    tight = fake_settings.with_overrides(max_file_mb=0.001)  # 1048 bytes
    report = Pipeline.build(tight).index.ingest([Path("docs")])
    assert report.files[0].status == "skipped" and "too large" in report.files[0].reason
    roomy = fake_settings.with_overrides(max_file_mb=0.01)
    assert Pipeline.build(roomy).index.ingest([Path("docs")]).count("added") == 1


def test_cli_ingest_of_only_oversized_files_fails_clearly(
    fake_settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    sparse_file(tmp_path / "big" / "huge.md", 60)
    code, err = cli(monkeypatch, capsys, fake_settings.data_dir, "ingest", "big")
    assert code == 1
    assert "skipped big/huge.md: too large (60.0 MiB" in err and "50" in err
    assert "nothing could be ingested" in err


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_absurd_size_limit_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    value: str,
) -> None:
    code, err = cli(monkeypatch, capsys, tmp_path / "d", "sources", CHATBOT_MAX_FILE_MB=value)
    assert code == 2 and err.startswith("error: setting CHATBOT_MAX_FILE_MB:")


def test_uploads_over_the_limit_are_rejected_before_saving(
    fake_settings: Settings, tmp_path: Path
) -> None:
    from chatbot.uploads import Upload, ingest_uploads

    limit = 1024
    files = [Upload("big.txt", b"x" * (limit + 1)), Upload("ok.txt", b"x" * limit)]
    index = Pipeline.build(fake_settings).index
    report = ingest_uploads(
        index, files, tmp_path / "up", LoadLimits(max_bytes=limit), lambda *_: None
    )
    assert [(Path(f.source).name, f.status) for f in report.files] == [
        ("big.txt", "skipped"), ("ok.txt", "added")
    ]
    assert "too large" in report.files[0].reason
    assert sorted(p.name for p in (tmp_path / "up").iterdir()) == ["ok.txt"]
