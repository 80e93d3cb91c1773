"""A watched folder (`chatbot ingest PATH --watch`, chatbot/watch.py).

The sync logic is driven with synthetic groups of changes (no timing): the files are changed on
disk first, then the group that the OS would report is fed in. One test runs the real watcher
(the CLI in another process) through additions, edits, a rename and a deletion, and one kills
it in the middle of a batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from index_state import CountingEmbeddings, state
from test_crash_safety import FILES, make_corpus, records_written, settings_for

from chatbot import Chatbot, StoreError, cli
from chatbot.config import Settings
from chatbot.fakes import HashingEmbeddings
from chatbot.index import Index
from chatbot.watch import FolderSync, WatchBatch, WatchError, file_changes

ADDED, MODIFIED, DELETED = 1, 2, 3


@pytest.fixture
def settings(fake_settings: Settings) -> Settings:
    return fake_settings.with_overrides(chunk_size=200, chunk_overlap=0, max_file_mb=0.01)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Alpha is the first letter. It opens the alphabet.\n")
    (folder / "sub" / "b.md").write_text("# Bravo\n\nBravo comes second, after alpha.\n")
    return folder


#: Changes to make on disk, then the group of (kind, path) the OS reports for them.
Step = tuple[Callable[[], None], list[tuple[int, Path]]]


def run(sync: FolderSync, *steps: Step) -> list[WatchBatch]:
    """The catch-up batch, then one batch per step whose group touched a watched file. As
    with the real watcher, the first group (empty) comes before the catch-up."""

    def groups() -> Iterator[set[tuple[int, str]]]:
        yield set()
        for change, group in steps:
            change()
            yield {(kind, str(path)) for kind, path in group}

    return list(sync.run(groups()))


def sources(index: Index) -> dict[str, int]:
    return {s.source: s.characters for s in index.sources()}


def consistent(index: Index) -> dict[str, Any]:
    """The index state, after checking it has no duplicate and every vector matches a chunk."""
    now = state(index)
    assert now["duplicate_ids"] == 0 and now["duplicate_spans"] == 0
    assert now["vectors"] == now["ids"]
    return now


def test_a_burst_of_changes_is_one_batch_of_what_is_on_disk(
    settings: Settings, docs: Path
) -> None:
    """Creations, edits and an editor's save (write a temp file, rename it over the original)
    reported together make one batch, which ingests the files as they are at the end."""
    index = Index(settings, HashingEmbeddings())
    sync = FolderSync(index, [Path("docs")])

    root = docs.resolve()

    def burst() -> None:
        (docs / "c.txt").write_text("Charlie is third.\n")
        (docs / "c.txt").write_text("Charlie is third. Charlie was edited twice.\n")
        (docs / ".a.txt.swp").write_text("editor state")
        (docs / "a.txt.tmp").write_text("Alpha is the first letter. Saved by an editor.\n")
        os.replace(docs / "a.txt.tmp", docs / "a.txt")
        (docs / ".a.txt.swp").unlink()

    [_, batch] = run(sync, (burst, [
        (ADDED, root / "c.txt"), (MODIFIED, root / "c.txt"), (ADDED, root / ".a.txt.swp"),
        (ADDED, root / "a.txt.tmp"), (DELETED, root / "a.txt.tmp"), (ADDED, root / "a.txt"),
        (DELETED, root / ".a.txt.swp"),
    ]))

    assert sorted((f.source, f.status) for f in batch.files) == [
        ("docs/a.txt", "updated"), ("docs/c.txt", "added")
    ]
    assert batch.summary().startswith("1 added, 1 updated, 0 moved, 0 removed, 0 skipped")
    assert index.document_text("docs/a.txt") == "Alpha is the first letter. Saved by an editor."
    assert index.document_text("docs/c.txt") == "Charlie is third. Charlie was edited twice."
    assert sorted(sources(index)) == ["docs/a.txt", "docs/c.txt", "docs/sub/b.md"]
    consistent(index)


def test_a_rename_is_a_move_that_embeds_nothing_and_leaves_no_duplicate(
    settings: Settings, docs: Path
) -> None:
    Index(settings, HashingEmbeddings()).ingest([Path("docs")])
    before = state(Index(settings, HashingEmbeddings()))
    counting = CountingEmbeddings()
    index = Index(settings, counting)
    sync = FolderSync(index, [Path("docs")])
    root = docs.resolve()

    def rename() -> None:
        (docs / "sub").rename(docs / "moved")  # a folder: the OS reports the folder alone
        (docs / "a.txt").rename(docs / "moved" / "alpha.txt")

    [catch_up, batch] = run(sync, (rename, [
        (DELETED, root / "sub"), (ADDED, root / "moved"), (DELETED, root / "a.txt"),
        (ADDED, root / "moved" / "alpha.txt"),
    ]))

    assert not catch_up.changed
    assert sorted(batch.moved) == [
        ("docs/a.txt", "docs/moved/alpha.txt"), ("docs/sub/b.md", "docs/moved/b.md")
    ]
    assert batch.files == [] and "2 moved" in batch.summary()
    assert counting.embedded == []
    after = consistent(index)
    assert sorted(sources(index)) == ["docs/moved/alpha.txt", "docs/moved/b.md"]
    assert after["count"] == before["count"]


def test_deletions_of_files_and_folders_are_pruned(settings: Settings, docs: Path) -> None:
    (docs / "sub" / "deeper").mkdir()
    (docs / "sub" / "deeper" / "d.txt").write_text("Delta lives deep down.\n")
    index = Index(settings, HashingEmbeddings())
    sync = FolderSync(index, [Path("docs")])
    root = docs.resolve()

    def deeper() -> None:
        (docs / "sub" / "deeper" / "d.txt").unlink()
        (docs / "sub" / "deeper").rmdir()

    batches = run(
        sync,
        ((docs / "a.txt").unlink, [(DELETED, root / "a.txt")]),
        (deeper, [(DELETED, root / "sub" / "deeper")]),  # rm -r reported as the folder only
        (lambda: (docs / "sub" / "b.md").rename(docs.parent / "b.md"),  # moved out
         [(DELETED, root / "sub" / "b.md")]),
    )

    assert [sorted((f.source, f.status) for f in b.files) for b in batches[1:]] == [
        [("docs/a.txt", "removed")], [("docs/sub/deeper/d.txt", "removed")],
        [("docs/sub/b.md", "removed")],
    ]
    assert sources(index) == {}  # (docs/ still holds the empty sub/, so it is not empty)
    consistent(index)


def test_an_emptied_folder_is_refused_then_retried_with_the_next_change(
    settings: Settings, docs: Path
) -> None:
    """An empty watched folder looks like an unmounted drive: the batch is refused like
    `ingest --prune` (nothing removed), kept, and done with the next change."""
    index = Index(settings, HashingEmbeddings())
    sync = FolderSync(index, [Path("docs")])
    root = docs.resolve()
    def empty() -> None:
        (docs / "a.txt").unlink()
        (docs / "sub" / "b.md").unlink()
        (docs / "sub").rmdir()

    def echo() -> None:
        (docs / "e.txt").write_text("Echo arrives in an empty folder.\n")

    [_, refused, done] = run(
        sync,
        (empty, [(DELETED, root / "a.txt"), (DELETED, root / "sub")]),
        (echo, [(ADDED, root / "e.txt")]),
    )

    assert "is empty" in refused.error and refused.changed
    assert refused.summary().startswith("not applied (will be retried with the next change)")
    assert done.error == ""
    assert sorted((f.source, f.status) for f in done.files) == [
        ("docs/a.txt", "removed"), ("docs/e.txt", "added"), ("docs/sub/b.md", "removed")
    ]
    assert sorted(sources(index)) == ["docs/e.txt"]
    consistent(index)


def test_changes_that_no_ingest_would_take_make_no_batch(
    settings: Settings, docs: Path
) -> None:
    """Hidden files, unsupported types, the index's own files (a data dir inside the watched
    folder), temp files already gone, and paths outside the folder."""
    settings = settings.with_overrides(data_dir=docs / "index")
    index = Index(settings, HashingEmbeddings())
    sync = FolderSync(index, [Path("docs")])
    root = docs.resolve()

    def noise() -> None:
        (docs / ".hidden").mkdir()
        (docs / ".hidden" / "h.txt").write_text("Hidden words.\n")
        (docs / "image.png").write_bytes(b"\x89PNG")
        (docs / "index" / "uploads").mkdir(parents=True)
        (docs / "index" / "uploads" / "u.txt").write_text("An upload's saved copy.\n")
        (docs.parent / "outside.txt").write_text("Not watched.\n")

    batches = run(
        sync,
        (noise, [(ADDED, root / ".hidden" / "h.txt"), (ADDED, root / "image.png")]),
        (lambda: None, [(MODIFIED, root / "index" / "index.db"),
                        (ADDED, root / "index" / "uploads" / "u.txt")]),
        (lambda: None, [(ADDED, root / "4913"), (DELETED, root / "4913"),
                        (DELETED, root / "a.txt~")]),
        (lambda: None, [(ADDED, docs.parent.resolve() / "outside.txt")]),
    )

    assert len(batches) == 1  # the catch-up only
    assert sorted(sources(index)) == ["docs/a.txt", "docs/sub/b.md"]
    assert sorted(f.source for f in batches[0].report.files) == ["docs/a.txt", "docs/sub/b.md"]


def test_a_watched_file_follows_its_edits_and_ignores_its_neighbours(
    settings: Settings, docs: Path
) -> None:
    index = Index(settings, HashingEmbeddings())
    sync = FolderSync(index, [Path("docs/a.txt")])
    root = docs.resolve()
    assert sync.folders == [root] and not sync.recursive

    def edit() -> None:
        (docs / "a.txt").write_text("Alpha, edited.\n")
        (docs / "neighbour.txt").write_text("Not watched.\n")

    batches = run(
        sync,
        (edit, [(MODIFIED, root / "a.txt")]),
        (lambda: None, [(ADDED, root / "neighbour.txt"), (MODIFIED, root / "sub" / "b.md")]),
    )

    assert [[(f.source, f.status) for f in b.files] for b in batches] == [
        [("docs/a.txt", "added")], [("docs/a.txt", "updated")]
    ]
    assert sources(index) == {"docs/a.txt": len("Alpha, edited.")}

    # The same file watched through a link: the OS watches (and reports) the real file.
    (docs.parent / "link.txt").symlink_to(docs / "a.txt")
    linked = FolderSync(index, [Path("link.txt")])
    assert linked.folders == [root]

    def edit_again() -> None:
        (docs.parent / "link.txt").write_text("Alpha, edited through a link.\n")

    [_, through] = run(linked, (edit_again, [(MODIFIED, root / "a.txt")]))
    assert [(f.source, f.status) for f in through.files] == [("docs/a.txt", "updated")]


def test_the_ingest_limits_apply_to_watched_files(settings: Settings, docs: Path) -> None:
    index = Index(settings, HashingEmbeddings())
    sync = FolderSync(index, [Path("docs")], exclude=["*draft*"])
    root = docs.resolve()

    def bad() -> None:
        (docs / "huge.txt").write_text("Far too long a file. " * 1000)  # > 0.01 MiB
        (docs / "draft.txt").write_text("Excluded by a pattern.\n")
        (docs / "empty.md").write_text("")

    [_, batch] = run(sync, (bad, [
        (ADDED, root / "huge.txt"), (ADDED, root / "draft.txt"), (ADDED, root / "empty.md")
    ]))

    skipped = {f.source: f.reason for f in batch.files if f.status == "skipped"}
    assert "too large" in skipped["docs/huge.txt"] and skipped["docs/empty.md"] == "empty file"
    assert len(batch.files) == 2 and batch.summary().startswith("0 added, 0 updated")
    assert sorted(sources(index)) == ["docs/a.txt", "docs/sub/b.md"]


def test_the_catch_up_batch_finds_what_changed_while_nobody_watched(
    settings: Settings, docs: Path
) -> None:
    bot = Chatbot(settings)
    bot.ingest(["docs"])
    (docs / "a.txt").write_text("Alpha changed while the watcher was off.\n")
    (docs / "sub" / "b.md").unlink()
    (docs / "c.txt").write_text("Charlie appeared meanwhile.\n")

    [catch_up] = bot.watch(["docs"], changes=[])

    assert sorted((f.source, f.status) for f in catch_up.files) == [
        ("docs/a.txt", "updated"), ("docs/c.txt", "added"), ("docs/sub/b.md", "removed")
    ]
    assert json.loads(json.dumps(catch_up.to_json()))["removed"] == 1


def test_ctrl_c_while_waiting_ends_the_watch_and_during_a_batch_abandons_it(
    settings: Settings, docs: Path
) -> None:
    """Waiting: the loop just ends. In a batch: KeyboardInterrupt reaches the caller, the
    index stays consistent, and the next run's catch-up finishes the batch."""

    bot = Chatbot(settings)

    def interrupted() -> Iterator[set[tuple[int, str]]]:
        yield set()
        raise KeyboardInterrupt

    assert len(list(bot.watch(["docs"], changes=interrupted()))) == 1

    class Interrupting(HashingEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise KeyboardInterrupt

    def new_files() -> None:
        for n in range(5):
            (docs / f"new{n}.txt").write_text(f"New file {n} with words of its own: item{n}.\n")

    index = Index(settings, Interrupting())
    group = [(ADDED, docs.resolve() / f"new{n}.txt") for n in range(5)]
    with pytest.raises(KeyboardInterrupt):
        run(FolderSync(index, [Path("docs")]), (new_files, group))
    assert sorted(sources(index)) == ["docs/a.txt", "docs/sub/b.md"]

    [catch_up] = Chatbot(settings).watch(["docs"], changes=[])
    assert catch_up.report.count("added") == 5
    consistent(Index(settings, HashingEmbeddings()))


def test_watching_a_folder_that_is_not_there_fails_at_once(settings: Settings) -> None:
    """The catch-up batch is a manual ingest: a missing folder is an error, not a watch."""
    with pytest.raises(StoreError, match="does not exist"):
        list(Chatbot(settings).watch(["missing"], changes=[]))


def test_a_folder_the_system_cannot_watch_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WatchError, match=r"cannot watch .*missing.*max_user_watches"):
        next(file_changes([tmp_path / "missing"], 100))


def test_cli_watch_refuses_flags_it_cannot_keep_in_step(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(settings.data_dir))
    for flags in (["--all"], ["docs", "--rebuild"], ["docs", "--if-empty"]):
        assert cli.main(["ingest", "--watch", *flags]) == 2
        assert "--watch takes paths" in capsys.readouterr().err


# --- the real watcher, in another process ---------------------------------------------------
def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBOT_", "OPENAI_"))}
    env.update(
        CHATBOT_LLM_PROVIDER="fake", CHATBOT_EMBEDDINGS_PROVIDER="fake",
        CHATBOT_DATA_DIR=str(data_dir), CHATBOT_CHUNK_SIZE="300", CHATBOT_CHUNK_OVERLAP="0",
        CHATBOT_EMBED_BATCH_SIZE="1", CHATBOT_WATCH_DEBOUNCE_MS="100",
    )
    return env


#: `python -m chatbot.cli` with Ctrl-C as in a terminal: a shell starts background jobs (a
#: test run may be one) with SIGINT ignored, which a child inherits and would never see.
INTERRUPTIBLE = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from chatbot.cli import main; sys.exit(main())"
)


class Watcher:
    """`chatbot ingest docs --watch` in another process, its stderr in a file."""

    def __init__(self, cwd: Path, data_dir: Path) -> None:
        self.log = cwd / f"watch-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-c", INTERRUPTIBLE, "ingest", "docs", "--watch"],
            cwd=cwd, env=cli_env(data_dir), stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def batches(self) -> int:
        """Batches reported so far (each ends with its summary line)."""
        return self.output().count(" batch: ")

    def wait_for(self, what: str, ready: Callable[[], bool], seconds: float = 120) -> None:
        """Poll `ready()` until it holds; fail (with the watcher's output) at the deadline or
        if the watcher died."""
        deadline = time.monotonic() + seconds
        while not ready():
            assert self.process.poll() is None, f"watcher exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"never saw {what}:\n{self.output()}"
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Send `sig` and return the exit code (the watcher's output if it does not exit)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the watcher did not exit on signal {sig}:\n{self.output()}")
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def indexed(data_dir: Path) -> Callable[[], dict[str, int]]:
    """`chatbot sources` as {source: characters}, read in this process."""
    bot = Chatbot(settings_for(data_dir))
    return lambda: {s.source: s.characters for s in bot.sources()}


def final_state(data_dir: Path) -> dict[str, Any]:
    return consistent(Index(settings_for(data_dir), HashingEmbeddings()))


def test_the_real_watcher_follows_adds_edits_a_rename_and_a_deletion(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha is first.\n")
    data_dir = tmp_path / "data"
    watcher = Watcher(tmp_path, data_dir)
    try:
        watcher.wait_for("the watcher start", lambda: "for changes" in watcher.output())
        now = indexed(data_dir)
        assert now() == {"docs/a.txt": len("Alpha is first.")}

        (docs / "b.md").write_text("# Bravo\n\nBravo is second.\n")
        (docs / "a.txt").write_text("Alpha is first, and was edited.\n")
        watcher.wait_for("the addition and the edit", lambda: now() == {
            "docs/a.txt": len("Alpha is first, and was edited."),
            "docs/b.md": len("# Bravo\n\nBravo is second."),
        })

        watcher.wait_for("the end of the batch", lambda: watcher.batches() == 1)
        (docs / "sub").mkdir()
        (docs / "b.md").rename(docs / "sub" / "bravo.md")
        watcher.wait_for("the rename", lambda: "moved docs/b.md -> docs/sub/bravo.md"
                         in watcher.output() and watcher.batches() == 2)
        assert sorted(now()) == ["docs/a.txt", "docs/sub/bravo.md"]

        (docs / "a.txt").unlink()
        watcher.wait_for("the deletion", lambda: sorted(now()) == ["docs/sub/bravo.md"])
        watcher.wait_for("the end of the batches", lambda: watcher.batches() == 3)
        assert watcher.stop() == 0  # Ctrl-C while waiting
    finally:
        watcher.stop(signal.SIGKILL)
    output = watcher.output()
    assert "stopped watching" in output and "Traceback" not in output
    assert final_state(data_dir)["sources"] == [("docs/sub/bravo.md", 1)]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGKILL, -signal.SIGKILL),
                                           (signal.SIGINT, 130)], ids=["kill", "ctrl-c"])
def test_a_watcher_stopped_mid_batch_leaves_an_index_the_next_watch_repairs(
    tmp_path: Path, sig: int, code: int
) -> None:
    """Killed (or Ctrl-C, which abandons the batch: exit 130) while a batch of many files is
    half committed; the next `--watch` run ends with the same index as a clean ingest (same
    chunk ids, none twice, vectors matching)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "first.txt").write_text("The first file, before the watch.\n")
    data_dir = tmp_path / "crashed"
    watcher = Watcher(tmp_path, data_dir)
    try:
        watcher.wait_for("the watcher start", lambda: "for changes" in watcher.output())
        make_corpus(tmp_path)  # 120 files of a few chunks each, at once
        total = 1 + 2 * FILES  # at least: every corpus file has two or more chunks
        watcher.wait_for("a half-done batch", lambda: records_written(data_dir) >= total // 3)
        assert watcher.stop(sig) == code
    finally:
        watcher.stop(signal.SIGKILL)
    assert records_written(data_dir) < total, "the signal came too late to be mid-batch"
    if sig == signal.SIGINT:
        assert "interrupted" in watcher.output() and "Traceback" not in watcher.output()

    clean_dir = tmp_path / "clean"
    subprocess.run(
        [sys.executable, "-m", "chatbot.cli", "ingest", "docs"], cwd=tmp_path,
        env=cli_env(clean_dir), check=True, capture_output=True,
    )
    clean = final_state(clean_dir)

    again = Watcher(tmp_path, data_dir)
    try:
        now = indexed(data_dir)
        again.wait_for("the repair", lambda: len(now()) == FILES + 1 and "for changes" in
                       again.output())
        assert again.stop() == 0
    finally:
        again.stop(signal.SIGKILL)
    assert final_state(data_dir) == clean
