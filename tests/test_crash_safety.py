"""An ingestion killed with SIGKILL mid-embedding, then run again, leaves the same index as a clean
run: same chunk ids, none twice, none missing, and the vectors agreeing with the records.

Also each inconsistent state a kill (or a lost Chroma folder) can leave, built directly, is
repaired by the next write (chatbot/locking.py).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from index_state import CountingEmbeddings, state

from chatbot.config import Settings
from chatbot.index import Index
from chatbot.locking import marker_path, repair
from chatbot.pipeline import Pipeline

FILES = 120
WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
]


def make_corpus(root: Path, files: int = FILES, version: int = 0) -> Path:
    """Many small files of a few chunks each."""
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        words = [WORDS[(n * 7 + i * (version + 3)) % len(WORDS)] for i in range(60)]
        body = f"Document {n} version {version} is about {WORDS[n % len(WORDS)]}.\n\n"
        body += " ".join(words) + f" number {n}.\n\n" + " ".join(reversed(words)) + ".\n"
        (docs / f"doc{n:04d}.txt").write_text(body, encoding="utf-8")
    return docs


def settings_for(data_dir: Path) -> Settings:
    return Settings(
        llm_provider="fake", embeddings_provider="fake", data_dir=data_dir,
        chunk_size=300, chunk_overlap=0, embed_batch_size=1,
        _env_file=None,  # type: ignore[call-arg]
    )


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(
        CHATBOT_LLM_PROVIDER="fake", CHATBOT_EMBEDDINGS_PROVIDER="fake",
        CHATBOT_DATA_DIR=str(data_dir), CHATBOT_CHUNK_SIZE="300", CHATBOT_CHUNK_OVERLAP="0",
        CHATBOT_EMBED_BATCH_SIZE="1",
    )
    return env


def snapshot(data_dir: Path) -> dict[str, Any]:
    """Everything that must match a clean run, read through a fresh open."""
    return state(Pipeline.build(settings_for(data_dir)).index)


def records_written(data_dir: Path) -> int:
    """Chunks committed so far (read-only; 0 before the tables exist)."""
    db = data_dir / "index.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            row = connection.execute("SELECT count(*) FROM chunks").fetchone()
            return int(row[0])
    except sqlite3.OperationalError:  # table not created yet, or busy
        return 0


def kill_ingest_when(cwd: Path, data_dir: Path, ready: Callable[[], bool]) -> None:
    """Start `chatbot ingest docs` and SIGKILL it as soon as `ready()` says so."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot.cli", "ingest", "docs"],
        cwd=cwd, env=env_for(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not ready():
            assert process.poll() is None, "ingestion ended before it could be killed"
            assert time.monotonic() < deadline, "ingestion made no progress"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL


def kill_mid_embedding(cwd: Path, data_dir: Path, after: int, before: int) -> int:
    """Kill `chatbot ingest docs` once `after` chunks are committed (by this run or earlier
    ones); returns how many there were."""
    kill_ingest_when(cwd, data_dir, lambda: records_written(data_dir) >= after)
    written = records_written(data_dir)
    assert written < before, "the kill came too late to be mid-embedding"
    return written


def run_ingest(cwd: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "ingest", "docs"],
        cwd=cwd, env=env_for(data_dir), capture_output=True, text=True, timeout=600,
    )


def test_sigkill_mid_embedding_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crashed"
    Pipeline.build(settings_for(clean_dir)).index.ingest([Path("docs")])
    clean = snapshot(clean_dir)
    total = clean["count"]
    assert total >= 2 * FILES and clean["duplicate_ids"] == 0

    # Killed twice at different depths, then finished.
    # (Killed while reading or embedding, outside the write lock, it leaves no repair marker;
    # killed inside a commit, it does: either way the next run finishes the job.)
    first = kill_mid_embedding(tmp_path, crash_dir, after=total // 5, before=total)
    second = kill_mid_embedding(tmp_path, crash_dir, after=first + total // 4, before=total)
    assert first < second < total
    result = run_ingest(tmp_path, crash_dir)
    assert result.returncode == 0, result.stderr

    crashed = snapshot(crash_dir)
    assert crashed == clean
    assert crashed["vectors"] == crashed["ids"]
    assert not marker_path(settings_for(crash_dir)).exists()


def test_sigkill_while_updating_changed_files(tmp_path: Path) -> None:
    """Old chunks of a changed file go, new ones come, even when killed half-way."""
    make_corpus(tmp_path)
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crashed"
    Pipeline.build(settings_for(crash_dir)).index.ingest([Path("docs")])
    total = records_written(crash_dir)
    make_corpus(tmp_path, version=1)  # every file changes
    # A replaced file's chunks are swapped in one transaction, so the count stays near `total`
    # while files are rewritten; kill once a third of the old chunks are gone.
    kill_while_replacing(tmp_path, crash_dir, total)
    assert run_ingest(tmp_path, crash_dir).returncode == 0
    Pipeline.build(settings_for(clean_dir)).index.ingest([Path("docs")])
    crashed, clean = snapshot(crash_dir), snapshot(clean_dir)
    assert crashed == clean
    assert crashed["vectors"] == crashed["ids"]


def chunk_ids(data_dir: Path) -> set[str] | None:
    """Recorded chunk ids, read-only (None while the database is busy)."""
    try:
        with sqlite3.connect(f"file:{data_dir / 'index.db'}?mode=ro", uri=True) as db:
            return {r[0] for r in db.execute("SELECT id FROM chunks")}
    except sqlite3.OperationalError:
        return None


def kill_while_replacing(cwd: Path, data_dir: Path, total: int) -> None:
    """Kill `chatbot ingest docs` over changed files part-way, once a third of the chunk ids
    recorded at the start were replaced."""
    before = chunk_ids(data_dir) or set()

    def a_third_replaced() -> bool:
        now = chunk_ids(data_dir)
        return now is not None and len(before - now) >= total // 3

    kill_ingest_when(cwd, data_dir, a_third_replaced)
    assert before & (chunk_ids(data_dir) or set()), "the kill came too late to be mid-update"


def test_vectors_still_answer_queries_after_the_kill(tmp_path: Path) -> None:
    """The HNSW side agrees with the records: each chunk finds itself (at cosine 1; the fake
    embeddings give reordered texts equal vectors, hence k=10)."""
    make_corpus(tmp_path)
    data_dir = tmp_path / "crashed"
    kill_mid_embedding(tmp_path, data_dir, after=60, before=FILES * 2)
    assert run_ingest(tmp_path, data_dir).returncode == 0
    pipeline = Pipeline.build(settings_for(data_dir))
    index = pipeline.index
    for chunk in index.chunks([s.source for s in index.sources()])[::7]:
        vector = pipeline.embeddings.embed_query(chunk.text)
        with index.snapshot() as snap:
            hits = snap.dense(vector, 10)
        assert chunk.chunk_id in {p.chunk_id for p, cosine in hits if cosine > 1 - 1e-6}


# --- each half-done state, built directly --------------------------------------------------
@pytest.fixture
def indexed(tmp_path: Path) -> Pipeline:
    make_corpus(tmp_path, files=6)
    pipeline = Pipeline.build(settings_for(tmp_path / "data"))
    pipeline.index.ingest([Path("docs")])
    return pipeline


def _crash_marker(pipeline: Pipeline) -> None:
    marker_path(pipeline.settings).write_text("12345\n")


def _vectors(pipeline: Pipeline) -> Any:
    collection = pipeline.index.collection(pipeline.index.active())
    assert collection is not None
    return collection


def test_lost_vectors_are_embedded_again_from_the_stored_text(indexed: Pipeline) -> None:
    """Vectors gone but records kept (a lost Chroma folder or server volume)."""
    before = snapshot(indexed.settings.data_dir)
    _vectors(indexed).delete(before["ids"][:3])
    _crash_marker(indexed)
    report = repair(indexed.index)
    assert report.restored_vectors == 3
    assert snapshot(indexed.settings.data_dir) == before


def test_vectors_a_killed_run_left_are_reused_then_the_rest_dropped(indexed: Pipeline) -> None:
    """Killed after Chroma's upsert, before the records: the next ingest adopts the vectors
    without embedding again, and drops those nothing uses."""
    before = snapshot(indexed.settings.data_dir)
    source = before["sources"][0][0]
    chunks = indexed.index.chunks([source])
    indexed.index.remove_sources(indexed.index.active(), [source])
    # What a killed run leaves: the file's vectors stored, its records not (and a stray one).
    ids = [c.chunk_id for c in chunks] + ["stray"]
    texts = [c.text for c in chunks] + ["stray text"]
    sources = [source] * len(chunks) + ["nowhere"]
    _vectors(indexed).upsert(ids, indexed.embeddings.embed_documents(texts), sources)
    _crash_marker(indexed)
    counting = CountingEmbeddings()
    report = Index(indexed.settings, counting).ingest([Path("docs")])
    assert report.count("added") == 1 and counting.embedded == []
    assert snapshot(indexed.settings.data_dir) == before


def test_stale_vectors_left_after_a_commit_are_dropped(indexed: Pipeline) -> None:
    """Killed after the records changed, before the old vectors were deleted."""
    before = snapshot(indexed.settings.data_dir)
    vectors = indexed.embeddings.embed_documents(["old text"])
    _vectors(indexed).upsert(["old-chunk"], vectors, [before["sources"][0][0]])
    _crash_marker(indexed)
    indexed.index.ingest([Path("docs")])  # the files themselves are unchanged
    assert snapshot(indexed.settings.data_dir) == before
