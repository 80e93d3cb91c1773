"""One writer at a time per data dir, and a repair after a writer died half-way.

Every method that writes the index runs under `exclusive()`: an exclusive `fcntl.flock` on
`<data_dir>/ingest.lock` (so two processes, say the CLI and the app, never interleave their
writes), re-entrant within a process. A second writer waits up to `CHATBOT_LOCK_TIMEOUT` seconds,
then fails with `IndexBusyError` naming the lock and the holder's pid. Readers never lock.

While a write runs, `<data_dir>/<collection>.writing` exists; it is removed only when the write
finishes. Finding it on the next write means the previous writer was killed (or failed) part-way,
so the three stores are reconciled first (`repair`): record-manager keys without a vector are
dropped (else the next ingest would skip re-adding them), vectors without a record are registered,
and a document whose chunks in Chroma do not match its row is marked stale, so the next ingest of
that file redoes it. Vectors already written are kept, so an interrupted ingest resumes rather
than re-embedding everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from chatbot.config import Settings

LOCK_NAME = "ingest.lock"
#: How often a waiting writer retries the lock.
POLL_SECONDS = 0.1


class IndexBusyError(RuntimeError):
    """Another process kept the index's write lock longer than CHATBOT_LOCK_TIMEOUT."""


class _Writable(Protocol):
    """What `repair` needs of `chatbot.index.Index` (kept structural to avoid an import cycle)."""

    settings: Settings
    store: Any
    records: Any

    def _db(self) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...

    def _bump(self, db: sqlite3.Connection) -> None: ...


@dataclass
class _Held:
    """This process's hold on one lock file: threads queue on `mutex`, `depth` counts re-entry."""

    mutex: threading.RLock
    depth: int = 0
    fd: int | None = None


_registry_guard = threading.Lock()
_registry: dict[Path, _Held] = {}


def lock_path(settings: Settings) -> Path:
    return (settings.data_dir / LOCK_NAME).resolve()


def marker_path(settings: Settings) -> Path:
    return settings.data_dir / f"{settings.collection}.writing"


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text().split()[0])
        return f"process {pid}"
    return "another process"


def _busy(path: Path, timeout: float) -> IndexBusyError:
    return IndexBusyError(
        f"the index is being written by {_holder(path)} (lock {path}); waited {timeout:g} s. "
        "Let that ingestion finish and try again, or raise CHATBOT_LOCK_TIMEOUT"
    )


def _flock(path: Path, timeout: float) -> int:
    """Open and exclusively lock `path`, polling until `timeout`; returns the open descriptor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise _busy(path, timeout) from None
            time.sleep(POLL_SECONDS)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


@contextlib.contextmanager
def write_lock(settings: Settings) -> Iterator[bool]:
    """Hold the data dir's write lock; yields True for the outermost hold in this process."""
    path = lock_path(settings)
    with _registry_guard:
        held = _registry.setdefault(path, _Held(threading.RLock()))
    timeout = settings.lock_timeout
    if not held.mutex.acquire(timeout=timeout if timeout > 0 else 0.001):
        raise _busy(path, timeout)
    try:
        if held.depth == 0:
            held.fd = _flock(path, timeout)
        held.depth += 1
        try:
            yield held.depth == 1
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fcntl.flock(held.fd, fcntl.LOCK_UN)
                os.close(held.fd)
                held.fd = None
    finally:
        held.mutex.release()


_open_guard = threading.Lock()


@contextlib.contextmanager
def open_lock(settings: Settings) -> Iterator[None]:
    """Serialise only the opening of an index (creating Chroma's files, the collection and
    the SQLite schemas), which races when two fresh processes start at once. Held for
    milliseconds, separate from the write lock, so readers never wait for an ingestion."""
    with _open_guard:
        fd = _flock((settings.data_dir / "open.lock").resolve(), max(settings.lock_timeout, 1.0))
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


@contextlib.contextmanager
def guarded_write(index: _Writable, *, repair_first: bool = True) -> Iterator[None]:
    """The lock, a repair if the last writer died, and the marker around this write."""
    with write_lock(index.settings) as outermost:
        if not outermost:
            yield
            return
        marker = marker_path(index.settings)
        if marker.exists() and repair_first:
            repair(index)
        _write_marker(marker)
        yield
        marker.unlink(missing_ok=True)


def _write_marker(marker: Path) -> None:
    with open(marker, "w") as handle:
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        os.fsync(handle.fileno())


P = ParamSpec("P")
R = TypeVar("R")
W = TypeVar("W", bound=_Writable)


def exclusive(
    *, repair_first: bool = True
) -> Callable[[Callable[Concatenate[W, P], R]], Callable[Concatenate[W, P], R]]:
    """Decorate an `Index` method that writes: it runs under `guarded_write`."""

    def decorate(method: Callable[Concatenate[W, P], R]) -> Callable[Concatenate[W, P], R]:
        @functools.wraps(method)
        def wrapper(self: W, /, *args: P.args, **kwargs: P.kwargs) -> R:
            with guarded_write(self, repair_first=repair_first):
                return method(self, *args, **kwargs)

        return wrapper

    return decorate


@dataclass
class RepairReport:
    dangling_records: int = 0
    unrecorded_vectors: int = 0
    stale_documents: list[str] | None = None


def repair(index: _Writable, batch: int = 5000) -> RepairReport:
    """Make the record manager agree with Chroma, and mark documents whose chunks are not all
    in Chroma as stale (their next ingest redoes them). Idempotent; safe to run any time the
    write lock is held."""
    collection = index.store._collection
    sources_of: dict[str, str] = {}
    total = int(collection.count())
    for offset in range(0, total, batch):
        got = collection.get(limit=batch, offset=offset, include=["metadatas"])
        for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            sources_of[chunk_id] = str((meta or {}).get("source", ""))
    records = set(index.records.list_keys())
    dangling = sorted(records - sources_of.keys())
    for begin in range(0, len(dangling), 1000):
        index.records.delete_keys(dangling[begin : begin + 1000])
    unrecorded = sorted(sources_of.keys() - records)
    if unrecorded:
        index.records.update(unrecorded, group_ids=[sources_of[k] for k in unrecorded])
    per_source = Counter(sources_of.values())
    with index._db() as db:
        rows = db.execute(
            "SELECT source, chunks FROM documents WHERE collection = ?",
            (index.settings.collection,),
        ).fetchall()
        stale = [source for source, chunks in rows if per_source.get(source, 0) != chunks]
        for source in stale:
            db.execute(
                "UPDATE documents SET mtime_ns = -1, sha256 = '' "
                "WHERE collection = ? AND source = ?",
                (index.settings.collection, source),
            )
        index._bump(db)
    return RepairReport(len(dangling), len(unrecorded), stale)
