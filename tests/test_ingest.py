"""Ingestion: a folder of every format plus bad files, re-ingested incrementally, pruned and
removed with the stores in exact agreement; progress; the CLI; and as seen by other processes:
interrupted rebuilds, lost vectors, missing roots, symlinks, the write lock, and source names
that do not depend on the working directory."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from index_state import CountingEmbeddings, state
from pypdf import PdfWriter
from test_index import check_consistent

from chatbot import cli, records
from chatbot.answer import ask
from chatbot.config import Settings
from chatbot.fakes import HashingEmbeddings
from chatbot.index import Index, UnknownSourceError
from chatbot.locking import marker_path
from chatbot.pipeline import Pipeline
from chatbot.retrieve import Retriever

DATA = Path(__file__).resolve().parent / "data" / "ingest"
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
        COLUMNS="400",
    )
    env.update(extra)
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

    def __init__(self, cwd: Path, data_dir: Path, **env: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER], cwd=cwd, env=env_for(data_dir, **env),
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


# --- 13.4: a running process sees what another process wrote --------------------------------
def test_a_running_process_sees_another_process_ingest_remove_and_rebuild(
    tmp_path: Path, seeded_dir: Path
) -> None:
    sees_what_others_write(tmp_path, seeded_dir)


def sees_what_others_write(tmp_path: Path, data_dir: Path, **env: str) -> None:
    """A long-running reader and CLI writers in other processes, on one data dir (and, with
    CHROMA_HOST in `env`, one Chroma server)."""
    seeded_dir = data_dir
    reader = Reader(tmp_path, seeded_dir, **env)
    try:
        for mode in ("dense", "hybrid", "bm25"):
            assert reader.query(mode, SEED_QUESTION)["sources"][0] == SEED_SOURCE
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "bakery.txt").write_text(BAKERY, encoding="utf-8")

        assert chatbot(tmp_path, seeded_dir, "ingest", "other", **env).returncode == 0
        for mode in ("dense", "hybrid", "bm25"):
            hits = reader.query(mode, "bakery Elm Street rye bread Tuesday")["sources"]
            assert hits[0] == "other/bakery.txt", mode
        assert reader.query("ask", "What does the bakery on Elm Street sell?")["sources"] == [
            "other/bakery.txt"
        ]

        assert chatbot(tmp_path, seeded_dir, "remove", "other/bakery.txt", **env).returncode == 0
        for mode in ("dense", "hybrid", "bm25"):
            hits = reader.query(mode, "bakery Elm Street rye bread Tuesday")["sources"]
            assert "other/bakery.txt" not in hits, mode

        result = chatbot(tmp_path, seeded_dir, "ingest", "--rebuild", "other", **env)
        assert result.returncode == 0, result.stderr
        for mode in ("dense", "hybrid", "bm25"):
            hits = reader.query(mode, SEED_QUESTION + " bakery")["sources"]
            assert set(hits) == {"other/bakery.txt"}, mode
    finally:
        reader.close()


# --- 13.6: rebuilds switch only when complete; lost vectors are noticed and restored ------------
def _rows_of_the_copy_being_built(settings: Settings) -> int:
    """Chunk rows of the copy a rebuild is writing (0 while the writer holds the database)."""
    try:
        path = settings.data_dir / "index.db"
        with contextlib.closing(sqlite3.connect(path, timeout=0.05)) as db:
            building = records.spaces(db, settings.collection)[1]
            if building is None:
                return 0
            found = db.execute("SELECT count(*) FROM chunks WHERE collection = ?", (building,))
            return int(found.fetchone()[0])
    except sqlite3.OperationalError:
        return 0


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
        # Kill it as soon as the new copy holds chunks (a fixed wait let a fast machine finish).
        while _rows_of_the_copy_being_built(settings) == 0:
            assert process.poll() is None, "the rebuild ended before it could be interrupted"
            assert time.monotonic() < deadline, "the rebuild wrote nothing"
            time.sleep(0.005)
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
    result = chatbot(tmp_path, seeded_dir, "ingest", "--all", "--prune")  # the same, for all
    assert result.returncode != 0 and "nothing was pruned" in " ".join(result.stderr.split())
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

    indexed = {r.source for r in pipeline.index.sources()}
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


# --- a folder of every format, re-ingested, pruned, removed ------------------------------------
GOOD = {
    "notes.txt": "The zeppelin hangar at Moffett Field housed the airship Macon. "
    "Its doors weighed almost two hundred tons each.\n\nVisitors can tour the hangar today.",
    "guide.md": "# Tram guide\n\nThe tram depot closes at midnight on weekdays.\n\n"
    "## Tickets\n\nA day ticket costs four euros and covers every line.",
    "sub/page.html": "<html><head><script>var x = 'SCRIPTTEXT';</script></head><body>"
    "<nav><a href='/'>NAVTEXT home</a></nav><article><h1>Glacier walks</h1>"
    "<p>Guided glacier walks leave from the valley station every morning at nine.</p>"
    "<p>Crampons and helmets are handed out at the ticket office before the walk.</p>"
    "</article><footer>FOOTERTEXT contact us</footer></body></html>",
}


def _bad_files(folder: Path) -> dict[str, str]:
    """Write one file of each bad kind; returns name -> expected words of the skip reason."""
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blob.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "latin1.txt").write_bytes("Crème brûlée au café.".encode("latin-1"))
    pdf = (DATA / "report.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(pdf[: len(pdf) // 3])
    docx = (DATA / "memo.docx").read_bytes()
    (folder / "broken.docx").write_bytes(docx[: len(docx) // 2])
    writer = PdfWriter(clone_from=DATA / "report.pdf")
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    writer.write(folder / "locked.pdf")
    (folder / "huge.txt").write_text("Enormous file. " * 20_000)  # ~300 kB > 0.2 MiB limit
    return {
        "empty.txt": "empty file",
        "blob.txt": "binary",
        "latin1.txt": "UTF-8",
        "truncated.pdf": "corrupt or unreadable PDF",
        "broken.docx": "not a readable .docx",
        "locked.pdf": "password protected",
        "huge.txt": "too large",
    }


@pytest.fixture
def settings(fake_settings: Settings) -> Settings:
    return fake_settings.with_overrides(max_file_mb=0.2, chunk_size=200, chunk_overlap=40)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """docs/ in the working directory with good files of every format."""
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    for name, text in GOOD.items():
        (docs / name).write_text(text, encoding="utf-8")
    shutil.copy(DATA / "report.pdf", docs / "sub" / "report.pdf")
    shutil.copy(DATA / "memo.docx", docs / "memo.docx")
    return docs


def test_ingest_folder_then_update_prune_and_remove(settings: Settings, folder: Path) -> None:
    expected_reasons = _bad_files(folder)
    embeddings = CountingEmbeddings()
    index = Index(settings, embeddings)
    retriever = Retriever(index)

    report = index.ingest([Path("docs")])

    status = {f.source.removeprefix("docs/"): f.status for f in report.files}
    good = ["guide.md", "memo.docx", "notes.txt", "sub/page.html", "sub/report.pdf"]
    assert sorted(name for name, s in status.items() if s == "added") == good
    for name, words in expected_reasons.items():
        [item] = [f for f in report.files if f.source == f"docs/{name}"]
        assert item.status == "skipped"
        assert words in item.reason
        assert "\n" not in item.reason
    assert report.count("skipped") == len(expected_reasons)
    assert report.chunks_written == index.count() == sum(f.chunks for f in report.files)
    assert "5 added, 0 updated, 0 unchanged, 0 removed, 7 skipped" in report.summary()
    by_source = check_consistent(index)
    assert len(by_source) == 5

    # Formats: main HTML text only, PDF pages numbered, headings kept with their sections.
    html = index.document_text("docs/sub/page.html") or ""
    assert "Guided glacier walks" in html
    assert not any(noise in html for noise in ("SCRIPTTEXT", "NAVTEXT", "FOOTERTEXT"))
    pages = {c.page: c.text for c in index.chunks(["docs/sub/report.pdf"])}
    assert sorted(pages) == [1, 2, 3]
    assert "submarine cable" in pages[2]
    assert all("ACME Quarterly Report" not in text for text in pages.values())

    # A second run writes and embeds nothing.
    generation = index.generation()
    embedded = len(embeddings.embedded)
    again = index.ingest([Path("docs")])
    assert again.chunks_written == again.chunks_deleted == 0
    assert again.count("unchanged") == 5
    assert again.count("skipped") == len(expected_reasons)
    assert index.generation() == generation
    assert len(embeddings.embedded) == embedded

    # Modify one file, delete another, re-ingest with prune.
    notes_before = by_source["docs/notes.txt"]
    (folder / "notes.txt").write_text(
        "The bakery on Elm Street sells rye bread every Tuesday.", encoding="utf-8"
    )
    (folder / "guide.md").unlink()
    third = index.ingest([Path("docs")], prune=True)
    status = {f.source: f.status for f in third.files}
    assert status["docs/notes.txt"] == "updated"
    assert status["docs/guide.md"] == "removed"
    assert third.count("unchanged") == 3
    after = check_consistent(index)
    assert "docs/guide.md" not in after
    assert not after["docs/notes.txt"] & notes_before  # old chunks gone, exactly replaced
    assert len(after["docs/notes.txt"]) == 1
    assert {s: ids for s, ids in after.items() if s != "docs/notes.txt"} == {
        s: ids for s, ids in by_source.items() if s not in ("docs/notes.txt", "docs/guide.md")
    }
    for mode in ("dense", "bm25"):
        for question in ("zeppelin hangar airship Macon", "tram depot midnight day ticket"):
            for passage in retriever.retrieve(question, k=10, mode=mode):
                assert "zeppelin" not in passage.text
                assert "tram" not in passage.text.lower()
        [top, *_] = retriever.retrieve("bakery rye bread Elm Street", k=3, mode=mode)
        assert top.source == "docs/notes.txt"
        assert top.text == "The bakery on Elm Street sells rye bread every Tuesday."

    # Remove one source by name.
    assert index.remove("docs/memo.docx") == len(after["docs/memo.docx"])
    final = check_consistent(index)
    assert "docs/memo.docx" not in final
    assert not retriever.retrieve("quince harvest orchard", k=5, mode="bm25")
    with pytest.raises(UnknownSourceError):
        index.remove("docs/memo.docx")


def test_prune_only_touches_the_ingested_paths(settings: Settings, folder: Path) -> None:
    other = folder.parent / "other"
    other.mkdir()
    (other / "kept.txt").write_text("The ferry to the island leaves hourly.")
    index = Index(settings, HashingEmbeddings())
    index.ingest([Path("docs"), Path("other")])
    (other / "kept.txt").unlink()
    (folder / "notes.txt").unlink()
    report = index.ingest([Path("docs")], prune=True)
    assert [f.source for f in report.files if f.status == "removed"] == ["docs/notes.txt"]
    assert "other/kept.txt" in {row.source for row in index.sources()}


def test_an_edit_embeds_only_new_text(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    sections = [
        f"## Pier {n}\n\nLantern {n} hangs on the pier. It was lit in year {1900 + n}."
        for n in range(8)
    ]
    path.write_text("\n\n".join(sections))
    embeddings = CountingEmbeddings()
    index = Index(settings, embeddings)
    index.ingest([path])
    before = set(state(index)["ids"])
    embeddings.embedded.clear()
    # A new first section shifts every offset, so every chunk id changes...
    path.write_text("## Harbour\n\nThe harbour master rings a bell.\n\n" + "\n\n".join(sections))
    report = index.ingest([path])
    assert report.count("updated") == 1
    assert not before & set(state(index)["ids"])
    # ...yet only the text that is new is embedded; the rest reuses stored vectors.
    assert embeddings.embedded == ["## Harbour\n\nThe harbour master rings a bell."]
    check_consistent(index)
    [top] = Retriever(index).retrieve("lantern pier year 1903", k=1, mode="dense")
    assert "Lantern 3" in top.text


def test_touched_file_with_same_text_is_unchanged(settings: Settings, folder: Path) -> None:
    index = Index(settings, CountingEmbeddings())
    index.ingest([Path("docs")])
    generation = index.generation()
    notes = folder / "notes.txt"
    stat = notes.stat()
    os.utime(notes, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    report = index.ingest([Path("docs")])
    assert report.count("unchanged") == 5 and report.chunks_written == 0
    assert index.generation() == generation
    # The new mtime is remembered, so the next run does not even read the file.
    assert index.known()[str(notes.resolve())].mtime_ns == notes.stat().st_mtime_ns


def test_changed_chunk_settings_rechunk_unchanged_files(settings: Settings, folder: Path) -> None:
    Index(settings, HashingEmbeddings()).ingest([Path("docs")])
    os.utime(folder / "notes.txt")  # touched, same text
    bigger = settings.with_overrides(chunk_size=1000, chunk_overlap=0)
    index = Index(bigger, HashingEmbeddings())
    report = index.ingest([Path("docs")])
    assert report.count("updated") == 5
    assert index.sources()[0].chunks >= 1
    check_consistent(index)


def test_same_file_from_another_working_directory_is_not_duplicated(
    settings: Settings, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = Index(settings, HashingEmbeddings())
    index.ingest([Path("docs/notes.txt")])
    monkeypatch.chdir(folder)
    report = index.ingest([Path("notes.txt")])
    assert [(f.source, f.status) for f in report.files] == [("docs/notes.txt", "unchanged")]
    assert [row.source for row in index.sources()] == ["docs/notes.txt"]
    check_consistent(index)


def test_progress_is_reported_per_file_and_per_embedding_batch(
    settings: Settings, folder: Path
) -> None:
    calls: list[tuple[str, int, int]] = []
    index = Index(settings.with_overrides(embed_batch_size=2), HashingEmbeddings())
    index.ingest([Path("docs")], progress=lambda *call: calls.append(call))
    files = [c for c in calls if c[0] == "files"]
    embeds = [c for c in calls if c[0] == "embed"]
    assert [done for _, done, _ in files] == list(range(6))
    total = index.count()
    assert embeds[-1] == ("embed", total, total)
    assert len(embeds) >= total // 2 + 1
    assert [done for _, done, _ in embeds] == sorted(done for _, done, _ in embeds)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_ingest_sources_remove(
    fake_settings: Settings,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "CHATBOT_LLM_PROVIDER": "fake",
        "CHATBOT_EMBEDDINGS_PROVIDER": "fake",
        "CHATBOT_DATA_DIR": str(fake_settings.data_dir),
        "CHATBOT_MAX_FILE_MB": "0.2",
    }.items():
        monkeypatch.setenv(name, value)
    reasons = _bad_files(folder)

    code, _, err = _run(capsys, "ingest", "docs")
    assert code == 0
    assert "Traceback" not in err
    assert "5 added, 0 updated, 0 unchanged, 0 removed, 7 skipped" in err
    for name, words in reasons.items():
        [line] = [ln for ln in err.splitlines() if ln.startswith(f"skipped docs/{name}:")]
        assert words in line

    code, out, _ = _run(capsys, "sources", "--json")
    rows = json.loads(out)
    assert code == 0
    names = ["guide.md", "memo.docx", "notes.txt", "sub/page.html", "sub/report.pdf"]
    assert [r["source"] for r in rows] == [f"docs/{n}" for n in names]
    assert all(set(r) == {"source", "chunks", "characters", "indexed_at"} for r in rows)

    (folder / "notes.txt").unlink()
    code, out, err = _run(capsys, "ingest", "docs", "--prune", "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["removed"], report["unchanged"], report["chunks_written"]) == (1, 4, 0)

    code, _, err = _run(capsys, "remove", "docs/guide.md", "docs/nothing.txt")
    assert code == 1
    assert "removed docs/guide.md" in err
    assert "no indexed source 'docs/nothing.txt'" in err
    assert len(json.loads(_run(capsys, "sources", "--json")[1])) == 3

    # Nothing ingestible at all: non-zero exit, still no traceback.
    bad = folder.parent / "bad"
    bad.mkdir()
    _bad_files(bad)
    code, _, err = _run(capsys, "ingest", "bad")
    assert code == 1
    assert "nothing could be ingested" in err
    assert "Traceback" not in err

    # Another embedding model: one clear error line, then --rebuild starts over.
    monkeypatch.setenv("CHATBOT_EMBEDDING_MODEL", "fake-hashing-other")
    code, _, err = _run(capsys, "sources")
    assert code == 2
    assert "was built with embedding model 'fake-hashing-256'" in err
    code, _, err = _run(capsys, "ingest", "docs", "--rebuild")
    assert code == 0
    assert "4 added" in err


def test_seeded_fixture_skips_seed_boilerplate(seeded: Pipeline) -> None:
    texts = [c.text for c in seeded.index.chunks([s.source for s in seeded.index.sources()])]
    assert texts
    assert not any("Enjoying this article" in t for t in texts)
    check_consistent(seeded.index)


def test_a_moved_or_copied_file_reuses_the_vectors_of_its_text(
    settings: Settings, folder: Path
) -> None:
    """Same text under a new path (a rename, a copy): a new source, nothing embedded again."""
    Index(settings, HashingEmbeddings()).ingest([Path("docs")])
    counting = CountingEmbeddings()
    index = Index(settings, counting)
    (folder / "notes.txt").rename(folder / "sub" / "renamed.txt")
    shutil.copy(folder / "guide.md", folder / "copy.md")

    report = index.ingest([Path("docs")], prune=True)

    assert counting.embedded == []
    assert sorted((f.source, f.status) for f in report.files if f.status != "unchanged") == [
        ("docs/copy.md", "added"), ("docs/notes.txt", "removed"),
        ("docs/sub/renamed.txt", "added"),
    ]
    after = state(index)
    assert after["vectors"] == after["ids"] and after["duplicate_ids"] == 0
    (folder / "copy.md").write_text("# Copy\n\nA text of its own, new words only here.\n")
    index.ingest([Path("docs")])
    assert counting.embedded  # a changed text is embedded as before


def test_a_folder_holding_the_data_dir_never_ingests_the_index_itself(
    fake_settings: Settings, folder: Path
) -> None:
    """With CHATBOT_DATA_DIR inside an ingested folder, its files (and upload copies) are not
    documents: no source from it, and no skip line for each of its files."""
    settings = fake_settings.with_overrides(data_dir=folder / "index")
    index = Index(settings, HashingEmbeddings())
    (settings.data_dir / "uploads").mkdir(parents=True)
    (settings.data_dir / "uploads" / "upload.txt").write_text("An uploaded copy.\n")

    report = index.ingest([Path("docs")])

    assert not [f for f in report.files if f.source.startswith("docs/index/")]
    assert not [s for s in index.sources() if s.source.startswith("docs/index/")]
    assert report.count("added") == 5 and report.count("skipped") == 0
