"""An ingestion killed with SIGKILL mid-embedding, then run again, leaves the same index as a clean
run: same chunk ids, none twice, none missing, and the record manager agreeing with Chroma.

Also each inconsistent state a kill can leave between two store writes, built directly, is
repaired by the next write (chatbot/locking.py).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatbot.config import Settings
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
    """Everything that must match a clean run, read through a fresh process-level open."""
    index = Pipeline.build(settings_for(data_dir)).index
    got = index.store._collection.get(include=["metadatas", "documents"])
    ids: list[str] = got["ids"]
    spans = [(m["source"], m["start"], m["end"]) for m in got["metadatas"]]
    return {
        "ids": sorted(ids),
        "duplicate_ids": len(ids) - len(set(ids)),
        "duplicate_spans": len(spans) - len(set(spans)),
        "records": sorted(index.records.list_keys()),
        "sources": [(s["source"], s["chunks"]) for s in index.sources()],
        "count": index.count(),
    }


def records_written(data_dir: Path, since: float = 0.0) -> int:
    """Record-manager rows written at or after `since` (epoch seconds), read-only."""
    db = data_dir / "index.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            row = connection.execute(
                "SELECT count(*) FROM upsertion_record WHERE updated_at >= ?", (since,)
            ).fetchone()
            return int(row[0])
    except sqlite3.OperationalError:  # table not created yet, or busy
        return 0


def kill_mid_embedding(cwd: Path, data_dir: Path, after: int, before: int) -> int:
    """Start `chatbot ingest docs`, SIGKILL it once `after` records were written by this run or
    earlier ones; returns how many there were."""
    since = time.time() - 1 if records_written(data_dir) else 0.0
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot.cli", "ingest", "docs"],
        cwd=cwd, env=env_for(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while records_written(data_dir, since) < after:
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
    written = records_written(data_dir, since)
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
    first = kill_mid_embedding(tmp_path, crash_dir, after=total // 5, before=total)
    assert marker_path(settings_for(crash_dir)).exists()  # the next writer will repair
    second = kill_mid_embedding(tmp_path, crash_dir, after=first + total // 4, before=total)
    assert first < second < total
    result = run_ingest(tmp_path, crash_dir)
    assert result.returncode == 0, result.stderr

    crashed = snapshot(crash_dir)
    assert crashed == clean
    assert crashed["records"] == crashed["ids"]
    assert not marker_path(settings_for(crash_dir)).exists()


def test_sigkill_while_updating_changed_files(tmp_path: Path) -> None:
    """Old chunks of a changed file go, new ones come, even when killed half-way."""
    make_corpus(tmp_path)
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crashed"
    Pipeline.build(settings_for(crash_dir)).index.ingest([Path("docs")])
    make_corpus(tmp_path, version=1)  # every file changes
    total = records_written(crash_dir)
    time.sleep(1.5)  # the first run's records must predate the kill's one-second window
    kill_mid_embedding(tmp_path, crash_dir, after=total // 3, before=total)
    assert run_ingest(tmp_path, crash_dir).returncode == 0
    Pipeline.build(settings_for(clean_dir)).index.ingest([Path("docs")])
    crashed, clean = snapshot(crash_dir), snapshot(clean_dir)
    assert crashed == clean
    assert crashed["records"] == crashed["ids"]


def test_vectors_still_answer_queries_after_the_kill(tmp_path: Path) -> None:
    """The HNSW side agrees with the metadata side: each chunk finds itself (at distance 0;
    the fake embeddings give reordered texts equal vectors, hence k=10)."""
    make_corpus(tmp_path)
    data_dir = tmp_path / "crashed"
    kill_mid_embedding(tmp_path, data_dir, after=60, before=FILES * 2)
    assert run_ingest(tmp_path, data_dir).returncode == 0
    index = Pipeline.build(settings_for(data_dir)).index
    for doc in index.all_chunks()[::7]:
        hits = index.store.similarity_search_with_score(doc.page_content, k=10)
        assert doc.id in {hit.id for hit, distance in hits if distance < 1e-6}


# --- each half-done state, built directly --------------------------------------------------
@pytest.fixture
def indexed(tmp_path: Path) -> Pipeline:
    make_corpus(tmp_path, files=6)
    pipeline = Pipeline.build(settings_for(tmp_path / "data"))
    pipeline.index.ingest([Path("docs")])
    return pipeline


def _crash_marker(pipeline: Pipeline) -> None:
    marker_path(pipeline.settings).write_text("12345\n")


def test_vectors_deleted_but_records_kept_are_re_added(indexed: Pipeline) -> None:
    """Killed inside a delete, after Chroma but before the record manager."""
    before = snapshot(indexed.settings.data_dir)
    victim = before["ids"][:3]
    indexed.index.store.delete(ids=victim)
    _crash_marker(indexed)
    indexed.index.ingest([Path("docs")])  # the files themselves are unchanged
    assert snapshot(indexed.settings.data_dir) == before


def test_vectors_without_records_are_adopted(indexed: Pipeline) -> None:
    """Killed inside LangChain's index(), after Chroma's upsert but before the records."""
    before = snapshot(indexed.settings.data_dir)
    indexed.index.records.delete_keys(before["ids"][:4])
    _crash_marker(indexed)
    report = repair(indexed.index)
    assert report.unrecorded_vectors == 4 and report.dangling_records == 0
    assert snapshot(indexed.settings.data_dir) == before


def test_document_row_without_chunks_is_redone(indexed: Pipeline) -> None:
    """Killed inside remove(), after the chunks went but before the document row."""
    before = snapshot(indexed.settings.data_dir)
    source = before["sources"][0][0]
    ids = indexed.index.store.get(where={"source": source}, include=[])["ids"]
    indexed.index.store.delete(ids=ids)
    indexed.index.records.delete_keys(ids)
    _crash_marker(indexed)
    indexed.index.ingest([Path("docs")])
    assert snapshot(indexed.settings.data_dir) == before
