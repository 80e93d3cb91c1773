"""Keeping the index in step with folders as their files change (`chatbot ingest PATH --watch`).

The loop takes any iterable of change sets (watchfiles' grouped OS events, or a test's list),
so the sync logic runs without timing. Events only say *where* to look: each batch goes through
the one ingest entry point (`chatbot.ingest.ingest`, prune on) limited to the changed paths,
reading the files as they are then and pruning those that are gone (the catch-up batch at the
start looks at everything). So a batch has the guarantees of a manual ingest (one writer at a
time, crash safety, no duplicates, the ignore rules and caps), a burst of saves or an editor's
write-a-temp-then-rename is one change, and a batch killed half-way is finished by the next
write. A move is an addition plus a deletion in one batch: the new file reuses the old one's
vectors (same fingerprint, see `chatbot.ingest`), and the batch reports it as moved.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.errors import BusyError, ConfigError, StoreError
from chatbot.ingest import ingest
from chatbot.loaders import LOADERS
from chatbot.models import FileReport, IngestReport
from chatbot.records import KnownDocument

if TYPE_CHECKING:
    from chatbot.index import Index

#: One group of changes: (kind, path) pairs as watchfiles gives them. The kind is not used:
#: a batch looks at what is on disk, whatever happened on the way.
Changes = Iterable[tuple[Any, str]]
#: A folder that never goes quiet still gets a batch after this many debounce periods.
MAX_DEBOUNCE_PERIODS = 10


class WatchError(ConfigError):
    """The system will not watch these folders (a limit, a permission, a folder gone)."""


@dataclass(frozen=True)
class Target:
    """A watched file or folder: as given (names and patterns use that form) and resolved."""

    given: Path
    root: Path
    is_file: bool

    @property
    def folder(self) -> Path:
        """What the OS watches: the folder, or the real file's folder (editors replace files;
        a link given is followed)."""
        return self.root.parent if self.is_file else self.root


@dataclass
class WatchBatch:
    """What one batch did: the ingest report, the moves found in it, or why it failed."""

    report: IngestReport = field(default_factory=IngestReport)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old source, new source)
    error: str = ""

    @property
    def files(self) -> list[FileReport]:
        """The files added, updated, removed or skipped, a moved file not counted twice."""
        moved = {name for pair in self.moved for name in pair}
        return [
            f for f in self.report.files if f.status != "unchanged" and f.source not in moved
        ]

    @property
    def changed(self) -> bool:
        """Worth a line: something changed, was skipped, or failed."""
        return bool(self.error or self.moved or self.files)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> str:
        if self.error:
            return f"not applied (will be retried with the next change): {self.error}"
        counts = ", ".join(
            f"{self.count(s) if s != 'moved' else len(self.moved)} {s}"
            for s in ("added", "updated", "moved", "removed", "skipped")
        )
        return f"{counts} in {self.report.seconds:.1f} s"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.report.to_json(),
            "moved": [{"from": old, "to": new} for old, new in self.moved],
            "error": self.error,
        }


class FolderSync:
    """Keeps the index in step with some files and folders, a batch at a time."""

    def __init__(
        self,
        index: Index,
        paths: Sequence[Path],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> None:
        self.index = index
        self.targets = [Target(p, p.resolve(), p.is_file()) for p in paths]
        self.data_dir = index.settings.data_dir.resolve()
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.retry: set[Path] = set()  # paths of a batch that failed

    @property
    def folders(self) -> list[Path]:
        """The folders to watch, each once."""
        return sorted({t.folder for t in self.targets})

    @property
    def recursive(self) -> bool:
        """Files alone need only their own folders watched, not everything below them."""
        return not all(t.is_file for t in self.targets)

    def _holds_data_dir(self, target: Target) -> bool:
        return target.root == self.data_dir or target.root in self.data_dir.parents

    # --- which changes matter --------------------------------------------------------------
    def relevant(self, path: Path) -> bool:
        """A change an ingest could act on: a supported file (or a folder, or what may have
        been one) in a watched folder, not hidden, not in the data dir."""
        return any(self._relevant_to(target, path) for target in self.targets)

    def _relevant_to(self, target: Target, path: Path) -> bool:
        if target.is_file:  # (a link given: its target's own folder is watched)
            return path == target.root
        if target.root not in path.parents:
            return False
        if any(part.startswith(".") for part in path.relative_to(target.root).parts):
            return False
        if self._holds_data_dir(target) and (
            path == self.data_dir or self.data_dir in path.parents
        ):
            return False
        if path.suffix.lower() in LOADERS or path.is_dir():
            return True
        return not path.exists() and self._held_under(path)

    def _held_under(self, path: Path) -> bool:
        """Indexed files under a path that is gone (a deleted or moved-away folder)."""
        return bool(self.index.known(None, [str(path)], under=True))

    # --- batches ---------------------------------------------------------------------------
    def everything(self) -> set[Path]:
        return {t.root for t in self.targets}

    def apply(self, paths: set[Path], *, strict: bool = False) -> WatchBatch:
        """Ingest what is at or under `paths` now and prune what is gone. A failure of the
        store (or the lock held too long, or a prune refused) is reported and the paths are
        kept for the next batch; with `strict` it is raised."""
        paths = paths | self.retry
        before = self.index.known(None, [str(p) for p in paths if not p.exists()], under=True)
        try:
            report = ingest(
                self.index, [t.given for t in self.targets], prune=True, include=self.include,
                exclude=self.exclude, only=paths,
            )
        except (StoreError, BusyError) as exc:
            if strict:
                raise
            self.retry = paths
            return WatchBatch(error=str(exc))
        self.retry = set()
        if not report.count("removed"):
            return WatchBatch(report)
        after = self.index.known(None, [str(p) for p in paths if p.exists()], under=True)
        return WatchBatch(report, moves(report, before, after))

    def run(self, changes: Iterable[Changes]) -> Iterator[WatchBatch]:
        """A catch-up batch over everything, then one batch per group of changes that touches
        a watched file. The first group is awaited before the catch-up, so a real watcher is
        running by then and nothing that changes afterwards is missed. Ctrl-C while waiting
        for changes ends the loop; during a batch, KeyboardInterrupt goes to the caller (the
        batch is abandoned; the next run finishes it)."""
        groups = _until_interrupted(iter(changes))
        first = next(groups, None)
        yield self.apply(self.everything(), strict=True)
        for group in itertools.chain([first] if first is not None else [], groups):
            paths = {Path(path) for _, path in group}
            wanted = {path for path in paths if self.relevant(path)}
            if wanted:
                yield self.apply(wanted)


def _until_interrupted(changes: Iterator[Changes]) -> Iterator[Changes]:
    """The groups of changes until the source ends or Ctrl-C arrives while waiting for one."""
    while True:
        try:
            group = next(changes)
        except (StopIteration, KeyboardInterrupt):
            return
        yield group


def moves(
    report: IngestReport, before: dict[str, KnownDocument], after: dict[str, KnownDocument]
) -> list[tuple[str, str]]:
    """(old, new) source pairs of a batch: a removed file whose text came back under a new
    name in the same batch."""
    old = {doc.source: doc for doc in before.values()}
    new = {doc.source: doc for doc in after.values()}
    gone: dict[str, list[str]] = {}
    for item in report.files:
        if item.status == "removed" and item.source in old:
            gone.setdefault(old[item.source].fingerprint, []).append(item.source)
    pairs = []
    for item in report.files:
        doc = new.get(item.source)
        if item.status == "added" and doc is not None and gone.get(doc.fingerprint):
            pairs.append((gone[doc.fingerprint].pop(0), item.source))
    return pairs


def file_changes(
    folders: Sequence[Path], debounce_ms: int, stop: threading.Event | None = None,
    *, recursive: bool = True,
) -> Iterator[set[tuple[int, str]]]:
    """Groups of file system changes under `folders`: a group is given once nothing has
    changed for `debounce_ms`, or after `MAX_DEBOUNCE_PERIODS` times that. An empty group
    comes every second without changes (the first one says the watcher runs)."""
    import watchfiles

    try:
        for group in watchfiles.watch(
            *folders, watch_filter=None, step=debounce_ms,
            debounce=debounce_ms * MAX_DEBOUNCE_PERIODS, rust_timeout=1000,
            yield_on_timeout=True, raise_interrupt=True, stop_event=stop, recursive=recursive,
        ):
            yield {(int(kind), path) for kind, path in group}
    except (OSError, RuntimeError) as exc:  # a watch limit, a permission, a folder gone
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise WatchError(
            f"cannot watch {', '.join(map(str, folders))} ({detail}); for a very large tree "
            "raise the system's limit (Linux: fs.inotify.max_user_watches) or set "
            "WATCHFILES_FORCE_POLLING=1"
        ) from None
