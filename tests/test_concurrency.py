"""Two writers at once serialise through <data_dir>/ingest.lock (or the second fails with a clear
message naming it); the index is never corrupted; questions keep getting answers meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from index_state import state as index_state

from chatbot.answer import ask
from chatbot.config import Settings
from chatbot.locking import IndexBusyError, lock_path, write_lock
from chatbot.pipeline import Pipeline

QUESTION = "Which country does Xi visit before the SCO summit?"


def make_folder(root: Path, name: str, files: int) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for n in range(files):
        text = (
            f"Report {name} {n} covers topic {name}{n} in depth.\n\n"
            + " ".join(f"{name}word{(n * 13 + i) % 97}" for i in range(120))
            + "\n"
        )
        (folder / f"{name}-{n:03d}.txt").write_text(text, encoding="utf-8")
    return folder


def settings_for(data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        llm_provider="fake", embeddings_provider="fake", data_dir=data_dir,
        chunk_size=300, chunk_overlap=0, embed_batch_size=1,
        _env_file=None, **extra,  # type: ignore[call-arg]
    )


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(
        CHATBOT_LLM_PROVIDER="fake", CHATBOT_EMBEDDINGS_PROVIDER="fake",
        CHATBOT_DATA_DIR=str(data_dir), CHATBOT_CHUNK_SIZE="300", CHATBOT_CHUNK_OVERLAP="0",
        CHATBOT_EMBED_BATCH_SIZE="1", COLUMNS="400", **extra,
    )
    return env


def ingest_cli(cwd: Path, data_dir: Path, *paths: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chatbot.cli", "ingest", *paths],
        cwd=cwd, env=env_for(data_dir, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def state(data_dir: Path) -> dict[str, Any]:
    return index_state(Pipeline.build(settings_for(data_dir)).index)


def test_second_writer_fails_fast_naming_the_lock_and_its_holder(tmp_path: Path) -> None:
    make_folder(tmp_path, "a", 3)
    data_dir = tmp_path / "data"
    settings = settings_for(data_dir)
    with write_lock(settings):
        process = ingest_cli(tmp_path, data_dir, "a", CHATBOT_LOCK_TIMEOUT="0.5")
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "Traceback" not in stderr
    line = " ".join(stderr.split())
    assert f"lock {lock_path(settings)}" in line
    assert f"process {os.getpid()}" in line and "CHATBOT_LOCK_TIMEOUT" in line
    assert Pipeline.build(settings).index.count() == 0  # nothing was written


def test_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    make_folder(tmp_path, "a", 3)
    data_dir = tmp_path / "data"
    settings = settings_for(data_dir)
    with write_lock(settings):
        process = ingest_cli(tmp_path, data_dir, "a", CHATBOT_LOCK_TIMEOUT="120")
        time.sleep(1.0)  # let it start and block on the lock
        assert process.poll() is None
        assert Pipeline.build(settings).index.count() == 0  # it is waiting, not writing
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert Pipeline.build(settings).index.count() > 0


def test_lock_is_reentrant_in_a_process_and_exclusive_between_threads(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", lock_timeout=0.3)
    with write_lock(settings) as outer, write_lock(settings) as inner:
        assert outer and not inner
        failed: list[BaseException] = []
        thread = threading.Thread(target=_try_lock, args=(settings, failed))
        thread.start()
        thread.join()
        assert len(failed) == 1 and isinstance(failed[0], IndexBusyError)
    thread = threading.Thread(target=_try_lock, args=(settings, failed))
    thread.start()
    thread.join()
    assert len(failed) == 1  # free again


def _try_lock(settings: Settings, failed: list[BaseException]) -> None:
    try:
        with write_lock(settings):
            pass
    except IndexBusyError as exc:
        failed.append(exc)


def test_two_cli_ingestions_at_once_equal_one_after_the_other(tmp_path: Path) -> None:
    make_folder(tmp_path, "a", 60)
    make_folder(tmp_path, "b", 60)
    together, sequential = tmp_path / "together", tmp_path / "sequential"
    first = ingest_cli(tmp_path, together, "a")
    second = ingest_cli(tmp_path, together, "b")
    for process in (first, second):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    pipeline = Pipeline.build(settings_for(sequential))
    pipeline.index.ingest([Path("a")])
    pipeline.index.ingest([Path("b")])
    got, expected = state(together), state(sequential)
    assert got == expected
    assert got["vectors"] == got["ids"] and got["duplicate_spans"] == 0
    assert len(got["sources"]) == 120


def test_two_threads_ingesting_share_the_index_safely(tmp_path: Path) -> None:
    make_folder(tmp_path, "a", 30)
    make_folder(tmp_path, "b", 30)
    pipeline = Pipeline.build(settings_for(tmp_path / "data"))
    errors: list[BaseException] = []

    def run(folder: str) -> None:
        try:
            pipeline.index.ingest([Path(folder)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in ("a", "b", "a")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    got = state(tmp_path / "data")
    assert got["vectors"] == got["ids"] and got["duplicate_spans"] == 0
    assert len(got["sources"]) == 60


def test_questions_get_answers_while_a_thread_ingests(tmp_path: Path, seeded_dir: Path) -> None:
    make_folder(tmp_path, "big", 80)
    pipeline = Pipeline.build(settings_for(seeded_dir))
    done = threading.Event()
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            pipeline.index.ingest([Path("big")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    base = pipeline.index.count()
    thread = threading.Thread(target=ingest)
    thread.start()
    answered_during = 0
    while not done.is_set():
        answer = ask(pipeline, QUESTION)
        assert "Kazakhstan" in answer.answer and answer.citations
        answered_during += not done.is_set() and pipeline.index.count() > base
    thread.join()
    assert errors == []
    assert answered_during >= 1
    assert len(pipeline.index.sources()) == 81


def test_questions_get_answers_while_another_process_ingests(
    tmp_path: Path, seeded_dir: Path
) -> None:
    make_folder(tmp_path, "big", 120)
    pipeline = Pipeline.build(settings_for(seeded_dir))
    base = pipeline.index.count()
    process = ingest_cli(tmp_path, seeded_dir, "big")
    answered_during = 0  # answers given after the other process began writing, before it ended
    try:
        while process.poll() is None:
            answer = ask(pipeline, QUESTION)
            assert "Kazakhstan" in answer.answer and answer.citations
            answered_during += process.poll() is None and pipeline.index.count() > base
    finally:
        _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert answered_during >= 1
    assert len(Pipeline.build(settings_for(seeded_dir)).index.sources()) == 121
