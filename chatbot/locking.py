"""One writer at a time per data dir, and a repair after a writer died or vectors went missing.

Every method that writes the index runs under `exclusive()`: an exclusive `fcntl.flock` on
`<data_dir>/ingest.lock` (so two processes, say the CLI and the app, never interleave their
writes), re-entrant within a process. A second writer waits up to `CHATBOT_LOCK_TIMEOUT` seconds,
then fails with `IndexBusyError` naming the lock and the holder's pid. Readers never lock.
Ingestion holds the lock only to commit: files are read, split and embedded before
(chatbot/ingest.py).

While a write runs, `<data_dir>/<collection>.writing` exists; it is removed when the write
finishes. The records in index.db are what is indexed; Chroma may briefly hold more (vectors
are written before their records and deleted after them). So a writer killed part-way leaves
only unused vectors, which the next ingest reuses or drops. What does need repair (`repair`):
vectors missing for recorded chunks (Chroma's folder deleted by hand, a lost server volume),
which are embedded again from the stored chunk text, and a rebuild that never finished, whose
half-built copy is dropped (the old one stayed active throughout). Opening an index checks the
counts and repairs at once when no other process is writing; every write checks first.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from chatbot.config import Settings
from chatbot.errors import BusyError

log = logging.getLogger(__name__)

LOCK_NAME = "ingest.lock"
#: How often a waiting writer retries the lock.
POLL_SECONDS = 0.1


class IndexBusyError(BusyError):
    """Another process kept the index's write lock longer than CHATBOT_LOCK_TIMEOUT."""


class _Writable(Protocol):
    """What the lock and `repair` need of `chatbot.index.Index` (structural: no import cycle)."""

    settings: Settings

    def registered(self) -> None: ...

    def needs_repair(self) -> bool: ...

    def abandon_rebuild(self) -> bool: ...

    def restore_vectors(self, *, thorough: bool) -> int: ...


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


def _flock(path: Path, timeout: float | None, *, note_pid: bool = True) -> int:
    """Open and exclusively lock `path`, polling until `timeout` (None: wait as long as it
    takes); returns the open descriptor. `note_pid` writes our pid into it (for messages)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    else:
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
    if note_pid:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    return fd


@contextlib.contextmanager
def process_lock(
    path: Path, timeout: float | None = None, *, note_pid: bool = False
) -> Iterator[tuple[int, bool]]:
    """Hold an exclusive `flock` on `path` for this thread, re-entrant within it (threads of
    this process queue on a lock, other processes on the flock). Yields the descriptor and
    whether this is the outermost hold."""
    path = path.resolve()
    with _registry_guard:
        held = _registry.setdefault(path, _Held(threading.RLock()))
    if not held.mutex.acquire(timeout=-1 if timeout is None else max(timeout, 0.001)):
        raise _busy(path, timeout or 0.0)
    try:
        if held.depth == 0:
            held.fd = _flock(path, timeout, note_pid=note_pid)
        held.depth += 1
        try:
            assert held.fd is not None
            yield held.fd, held.depth == 1
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fcntl.flock(held.fd, fcntl.LOCK_UN)
                os.close(held.fd)
                held.fd = None
    finally:
        held.mutex.release()


@contextlib.contextmanager
def write_lock(settings: Settings, timeout: float | None = None) -> Iterator[bool]:
    """Hold the data dir's write lock; yields True for the outermost hold in this process."""
    timeout = settings.lock_timeout if timeout is None else timeout
    with process_lock(lock_path(settings), timeout, note_pid=True) as (_, outermost):
        yield outermost


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
        index.registered()  # another process may have deleted the collection meanwhile
        marker = marker_path(index.settings)
        if repair_first and (marker.exists() or index.needs_repair()):
            repair(index, thorough=marker.exists())
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
    abandoned_rebuild: bool = False
    restored_vectors: int = 0


def repair(index: _Writable, *, thorough: bool = True) -> RepairReport:
    """Drop a rebuild that never finished and embed again the vectors recorded chunks lack
    (`thorough`: compare every id, not only the counts). Idempotent; the caller holds the
    write lock."""
    abandoned = index.abandon_rebuild()
    if abandoned:
        log.warning("dropped the half-built copy of a rebuild that did not finish")
    return RepairReport(abandoned, index.restore_vectors(thorough=thorough))


def heal(index: _Writable) -> None:
    """On opening: repair now if needed and no other process is writing (that writer checks
    the same before its first write)."""
    if not index.needs_repair():
        return
    with contextlib.suppress(IndexBusyError), write_lock(index.settings, timeout=0.0):
        if index.needs_repair():
            repair(index, thorough=False)
