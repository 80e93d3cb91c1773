"""Ingestion as seen by its users: other processes, interrupted rebuilds, lost vectors, missing
roots, symlinks, the write lock, and source names that do not depend on the working directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chatbot import cli
from chatbot.answer import ask
from chatbot.config import Settings
from chatbot.locking import marker_path
from chatbot.pipeline import Pipeline

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_SOURCE = "seeds/xi-kazakhstan-visit.txt"
SEED_QUESTION = "Which country does Xi visit before the SCO summit?"
BAKERY = "The bakery on Elm Street sells rye bread every Tuesday morning."

#: A long-running process (like the app): one pipeline, questions read from stdin.
READER = r"""
import json, sys
from chatbot.answer import ask
from chatbot.config import get_settings
from chatbot.pipeline import Pipeline

pipeline = Pipeline.build(get_settings())
print("ready", flush=True)
for line in sys.stdin:
    mode, question = line.rstrip("\n").split("|", 1)
    try:
        if mode == "ask":
            answer = ask(pipeline, question)
            out = {"sources": sorted({c.source for c in answer.citations}), "text": answer.answer}
        else:
            out = {"sources": [p.source for p in pipeline.retriever.retrieve(question, 5, mode)]}
    except Exception as exc:
        out = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out), flush=True)
"""


def settings_for(data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        llm_provider="fake", embeddings_provider="fake", data_dir=data_dir,
        chunk_size=300, chunk_overlap=0, _env_file=None, **extra,  # type: ignore[call-arg]
    )


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(
        CHATBOT_LLM_PROVIDER="fake", CHATBOT_EMBEDDINGS_PROVIDER="fake",
        CHATBOT_DATA_DIR=str(data_dir), CHATBOT_CHUNK_SIZE="300", CHATBOT_CHUNK_OVERLAP="0",
        COLUMNS="400", **extra,
    )
    return env


def chatbot(cwd: Path, data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`chatbot ARGS` in another process."""
    return subprocess.run(
        [sys.executable, "-m", "chatbot.cli", *args],
        cwd=cwd, env=env_for(data_dir, **env), capture_output=True, text=True, timeout=600,
    )


def make_folder(root: Path, name: str, files: int) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        words = " ".join(f"{name}word{(n * 13 + i) % 97}" for i in range(90))
        text = f"Report {name} {n} covers topic {name}{n} in depth.\n\n{words}.\n"
        (folder / f"{name}-{n:03d}.txt").write_text(text, encoding="utf-8")
    return folder


def listed(data_dir: Path) -> list[tuple[str, int]]:
    """(source, chunks) as `chatbot sources --json` prints them."""
    result = chatbot(data_dir.parent, data_dir, "sources", "--json")
    assert result.returncode == 0, result.stderr
    return [(row["source"], row["chunks"]) for row in json.loads(result.stdout)]


class Reader:
    """A `READER` process and a way to ask it one thing at a time."""

    def __init__(self, cwd: Path, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER], cwd=cwd, env=env_for(data_dir),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the reader died: {self.process.stderr.read() if self.process.stderr else ''}"
        return line.strip()

    def query(self, mode: str, question: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{mode}|{question}\n")
        self.process.stdin.flush()
        reply: dict[str, Any] = json.loads(self._line())
        assert "error" not in reply, reply["error"]
        return reply

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def seeded_dir(tmp_path: Path) -> Path:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    data_dir = tmp_path / "data"
    Pipeline.build(settings_for(data_dir)).index.ingest([Path("seeds")])
    return data_dir


# --- 13.4: a running process sees what another process wrote --------------------------------
def test_a_running_process_sees_another_process_ingest_remove_and_rebuild(
    tmp_path: Path, seeded_dir: Path
) -> None:
    reader = Reader(tmp_path, seeded_dir)
    try:
        for mode in ("dense", "hybrid", "bm25"):
            assert reader.query(mode, SEED_QUESTION)["sources"][0] == SEED_SOURCE
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "bakery.txt").write_text(BAKERY, encoding="utf-8")

        assert chatbot(tmp_path, seeded_dir, "ingest", "other").returncode == 0
        for mode in ("dense", "hybrid", "bm25"):
            hits = reader.query(mode, "bakery Elm Street rye bread Tuesday")["sources"]
            assert hits[0] == "other/bakery.txt", mode
        assert reader.query("ask", "What does the bakery on Elm Street sell?")["sources"] == [
            "other/bakery.txt"
        ]

        assert chatbot(tmp_path, seeded_dir, "remove", "other/bakery.txt").returncode == 0
        for mode in ("dense", "hybrid", "bm25"):
            hits = reader.query(mode, "bakery Elm Street rye bread Tuesday")["sources"]
            assert "other/bakery.txt" not in hits, mode

        assert chatbot(tmp_path, seeded_dir, "ingest", "--rebuild", "other").returncode == 0
        for mode in ("dense", "hybrid", "bm25"):
            hits = reader.query(mode, SEED_QUESTION + " bakery")["sources"]
            assert set(hits) == {"other/bakery.txt"}, mode
    finally:
        reader.close()


# --- 13.6: rebuilds switch only when complete; lost vectors are noticed and restored ------------
def test_an_interrupted_rebuild_leaves_the_old_index_answering(tmp_path: Path) -> None:
    make_folder(tmp_path, "docs", 120)
    data_dir = tmp_path / "data"
    settings = settings_for(data_dir, embed_batch_size=1)
    Pipeline.build(settings).index.ingest([Path("docs")])
    before = listed(data_dir)
    assert len(before) == 120

    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot.cli", "ingest", "--rebuild", "docs"],
        cwd=tmp_path, env=env_for(data_dir, CHATBOT_EMBED_BATCH_SIZE="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker_path(settings).exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(1.0)  # well into writing the new index
        assert process.poll() is None, "the rebuild ended before it could be interrupted"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()

    assert listed(data_dir) == before
    answer = ask(Pipeline.build(settings), "Which report covers topic docs7 in depth?")
    assert not answer.abstained and answer.citations
    assert chatbot(tmp_path, data_dir, "ingest", "--rebuild", "docs").returncode == 0
    assert listed(data_dir) == before


def test_vectors_deleted_by_hand_are_detected_and_restored(tmp_path: Path) -> None:
    make_folder(tmp_path, "docs", 5)
    data_dir = tmp_path / "data"
    Pipeline.build(settings_for(data_dir)).index.ingest([Path("docs")])
    before = listed(data_dir)
    total = sum(chunks for _, chunks in before)

    shutil.rmtree(data_dir / "chroma")  # the user deletes the vectors
    result = chatbot(tmp_path, data_dir, "ingest", "docs")
    assert result.returncode == 0, result.stderr
    assert listed(data_dir) == before
    pipeline = Pipeline.build(settings_for(data_dir))
    assert pipeline.index.count() == total
    hits = pipeline.retriever.retrieve("Which report covers topic docs3 in depth?", 3, "dense")
    assert hits and hits[0].source == "docs/docs-003.txt"

    shutil.rmtree(data_dir / "chroma")  # again, and this time only ask
    result = chatbot(tmp_path, data_dir, "ask", "--json", "Which report covers topic docs3?")
    assert result.returncode == 0, result.stderr
    assert [c["source"] for c in json.loads(result.stdout)["citations"]] == ["docs/docs-003.txt"]


# --- 13.7: pruning a root that is not there is an error, and prunes nothing ---------------------
def test_prune_of_a_missing_or_empty_root_fails_and_prunes_nothing(
    tmp_path: Path, seeded_dir: Path
) -> None:
    make_folder(tmp_path, "docs", 3)
    assert chatbot(tmp_path, seeded_dir, "ingest", "docs").returncode == 0
    before = listed(seeded_dir)
    (tmp_path / "docs").rename(tmp_path / "docs-renamed")

    result = chatbot(tmp_path, seeded_dir, "ingest", "docs", "--prune")
    assert result.returncode != 0
    assert "docs" in result.stderr and "Traceback" not in result.stderr
    assert "nothing was pruned" in " ".join(result.stderr.split())
    assert listed(seeded_dir) == before

    (tmp_path / "docs").mkdir()  # an unmounted drive leaves an empty mount point
    result = chatbot(tmp_path, seeded_dir, "ingest", "docs", "--prune")
    assert result.returncode != 0
    assert "nothing was pruned" in " ".join(result.stderr.split())
    assert listed(seeded_dir) == before


# --- 13.8: symlinks out of the ingested folder ------------------------------------------------
def test_links_pointing_outside_the_root_are_skipped_with_a_reason(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir()
    (private / "creds.txt").write_text("The vault password is hunter2.", encoding="utf-8")
    (private / "more").mkdir()
    (private / "more" / "plan.txt").write_text("Secret plan: sell the moon.", encoding="utf-8")
    docs = tmp_path / "docs"
    (docs / "shared").mkdir(parents=True)
    (docs / "real.txt").write_text("The ferry leaves at noon.", encoding="utf-8")
    (docs / "shared" / "notes.txt").symlink_to(Path("../../private/creds.txt"))
    (docs / "linked-dir").symlink_to(private / "more", target_is_directory=True)
    (docs / "alias.txt").symlink_to(docs / "real.txt")  # inside the root: the same document

    pipeline = Pipeline.build(settings_for(tmp_path / "data"))
    report = pipeline.index.ingest([Path("docs")])

    indexed = {r.source if hasattr(r, "source") else r["source"] for r in pipeline.index.sources()}
    assert indexed == {"docs/real.txt"}
    skipped = {f.source: f.reason for f in report.files if f.status == "skipped"}
    assert "outside" in skipped["docs/shared/notes.txt"]
    assert not any("hunter2" in t.text for t in pipeline.retriever.retrieve("vault password", 5))
    assert not any("moon" in t.text for t in pipeline.retriever.retrieve("secret plan moon", 5))

    (docs / "shared" / "notes.txt").unlink()
    pruned = pipeline.index.ingest([Path("docs")], prune=True)
    assert pruned.count("removed") == 0 and len(pipeline.index.sources()) == 1


# --- 13.9: files are read, split and embedded outside the write lock -----------------------------
HOLDER = r"""
import sys
from chatbot.config import get_settings
from chatbot.locking import write_lock

with write_lock(get_settings()):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_files_are_read_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    make_folder(tmp_path, "a", 6)
    data_dir = tmp_path / "data"
    pipeline = Pipeline.build(settings_for(data_dir, lock_timeout=120))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=tmp_path, env=env_for(data_dir),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    events: list[tuple[str, int, int]] = []
    reports: list[Any] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        worker = threading.Thread(
            target=lambda: reports.append(
                pipeline.index.ingest([Path("a")], progress=lambda *e: events.append(e))
            )
        )
        worker.start()
        deadline = time.monotonic() + 30
        while not any(stage == "files" and done > 0 for stage, done, _ in events):
            assert time.monotonic() < deadline, "nothing was read while the lock was held"
            time.sleep(0.05)
        # Edited after it was read, before the write: the edit is what gets indexed.
        (tmp_path / "a" / "a-000.txt").write_text(
            "Rewritten: the lighthouse keeper counts gulls.", encoding="utf-8"
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    worker.join(timeout=120)
    assert not worker.is_alive() and reports
    assert len(pipeline.index.sources()) == 6
    assert pipeline.index.document_text("a/a-000.txt") == (
        "Rewritten: the lighthouse keeper counts gulls."
    )


# --- 12.3: source names do not depend on the working directory ---------------------------------
def test_source_names_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_folder(tmp_path, "docs", 3)
    (docs / "sub").mkdir()
    (docs / "sub" / "deep.txt").write_text("The deep file talks about tunnels.", encoding="utf-8")
    data_dir = tmp_path / "data"
    assert chatbot(tmp_path, data_dir, "ingest", "docs").returncode == 0
    names = [name for name, _ in listed(data_dir)]
    assert names == ["docs/docs-000.txt", "docs/docs-001.txt", "docs/docs-002.txt",
                     "docs/sub/deep.txt"]

    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    for cwd, argument in ((elsewhere, str(docs)), (docs / "sub", ".."), (docs, "sub/deep.txt")):
        result = chatbot(cwd, data_dir, "ingest", "--json", argument)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["added"] == report["updated"] == 0, (cwd, argument)
        assert [name for name, _ in listed(data_dir)] == names

    # Names given by the user resolve from anywhere: a listed name, or a path from here.
    result = chatbot(elsewhere, data_dir, "summarize", "--json", "docs/sub/deep.txt")
    assert result.returncode == 0, result.stderr
    result = chatbot(docs / "sub", data_dir, "remove", "deep.txt")
    assert result.returncode == 0, result.stderr
    assert "docs/sub/deep.txt" not in [name for name, _ in listed(data_dir)]

    # Re-index everything ingested before, from a directory where none of it is.
    (docs / "docs-001.txt").write_text("Changed: the tram depot closes at ten.", encoding="utf-8")
    result = chatbot(elsewhere, data_dir, "ingest", "--all", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["added"], report["updated"], report["unchanged"]) == (0, 1, 2)
    assert report["skipped"] == 0
