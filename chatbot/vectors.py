"""Chroma, kept to what it is good at: chunk vectors with a `source` tag, searched by cosine.

Chunk texts, offsets and the keyword index live in index.db (chatbot/records.py); Chroma holds
only ids, vectors and the source name (for `--source` filters). With CHROMA_HOST set, a Chroma
server holds them; otherwise an embedded Chroma under `<data_dir>/chroma`.

An embedded Chroma is a single-process store: each process keeps its own copy of the vector
index in memory, writes its files back from that copy, and never sees what another process
wrote (search misses the new chunks; reading their vectors fails with "Error finding id"), and
two processes writing its files at once corrupt them. So processes sharing a data dir take
turns: every Chroma call runs under an exclusive `flock` on `<data_dir>/chroma.lock` (held for
that call only, milliseconds to a second), and a process that finds another one has written
since (a stamp in that file) opens the folder afresh first. A server needs none of this: every
client sees its current state, and it serialises writes itself.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from chatbot.config import Settings
from chatbot.errors import StoreError
from chatbot.locking import process_lock

#: HNSW settings of new collections.
HNSW = {"space": "cosine"}
#: Ids per Chroma call.
PAGE = 5000
#: Bytes of the stamp in `chroma.lock` that changes with every write.
STAMP = 64

T = TypeVar("T")


class VectorStoreError(StoreError):
    """Chroma cannot be opened or reached; the message says what to do."""


@dataclass
class _Embedded:
    """This process's embedded Chroma for one folder (used only during a turn)."""

    system: Any = None
    client: Any = None
    seen: bytes = b""  # the stamp when this opening last knew the folder's state
    handles: dict[str, Any] = field(default_factory=dict)


_embedded: dict[Path, _Embedded] = {}
_embedded_guard = threading.Lock()


def _open_embedded(path: Path) -> tuple[Any, Any]:
    """A System of its own and a client on it, so that opening again really reads the folder
    again (`chromadb.PersistentClient` would hand back the cached one)."""
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.config import Settings as ChromaSettings
    from chromadb.config import System
    from chromadb.telemetry.product import ProductTelemetryClient

    system = System(
        ChromaSettings(anonymized_telemetry=False, is_persistent=True, persist_directory=str(path))
    )
    system.instance(ProductTelemetryClient)  # type: ignore[type-abstract]
    system.instance(ServerAPI)  # type: ignore[type-abstract]
    system.start()
    return system, Client.from_system(system)


class Vectors:
    """The Chroma side of one data dir (embedded or server): its collections."""

    def __init__(self, settings: Settings) -> None:
        self.remote = bool(settings.chroma_host)
        self._path = (settings.data_dir / "chroma").resolve()
        self._stamp = settings.data_dir.resolve() / "chroma.lock"
        self._server: Any = None
        try:
            if self.remote:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                self._server = chromadb.HttpClient(
                    host=str(settings.chroma_host),
                    port=settings.chroma_port,
                    settings=ChromaSettings(anonymized_telemetry=False),
                )
            else:
                self._path.mkdir(parents=True, exist_ok=True)
                self.call(lambda client: None)
        except ImportError:  # an install problem: the CLI names the missing module and the fix
            raise
        except Exception as exc:
            if self.remote:
                raise VectorStoreError(
                    f"cannot reach the Chroma server at {settings.chroma_host}:"
                    f"{settings.chroma_port} ({exc}); start it (`chroma run --path DIR`) or unset "
                    "CHROMA_HOST"
                ) from None
            raise VectorStoreError(f"cannot open the vectors at {self._path} ({exc})") from None

    @contextlib.contextmanager
    def _turn(self, writes: bool) -> Iterator[_Embedded]:
        """This process's turn at the embedded Chroma: threads queue on a lock, processes on
        the flock; the client is opened afresh if another process wrote meanwhile."""
        with _embedded_guard:
            state = _embedded.setdefault(self._path, _Embedded())
        with process_lock(self._stamp) as (fd, _):
            stamp = os.pread(fd, STAMP, 0)
            if state.client is None or stamp != state.seen:
                self._reopen(state)
                state.seen = stamp
            if writes:  # stamped first: a write that dies half-way still counts
                state.seen = uuid.uuid4().hex.encode().ljust(STAMP)
                os.pwrite(fd, state.seen, 0)
            yield state

    def _reopen(self, state: _Embedded) -> None:
        """Drop this process's copy (its memory, its threads) and read the folder afresh."""
        if state.system is not None:
            with contextlib.suppress(Exception):
                state.system.stop()
        state.system, state.client = _open_embedded(self._path)
        state.handles = {}

    def call(self, action: Callable[[Any], T], *, writes: bool = False) -> T:
        """Run `action(client)` with the chromadb client, in this process's turn."""
        if self.remote:
            return action(self._server)
        with self._turn(writes) as state:
            return action(state.client)

    def on(self, name: str, action: Callable[[Any], T], *, writes: bool = False) -> T:
        """Run `action(collection)` on the chromadb collection `name` (which must exist)."""

        def run(client: Any) -> T:
            return action(client.get_collection(name, embedding_function=None))

        if self.remote:
            return run(self._server)
        with self._turn(writes) as state:
            if name not in state.handles:
                state.handles[name] = state.client.get_collection(name, embedding_function=None)
            return action(state.handles[name])

    # --- collections -----------------------------------------------------------------------
    def client(self) -> Any:
        """The chromadb client, for callers that need a collection of their own (embedded:
        only within this process, e.g. the benchmark's baseline)."""
        return self.call(lambda client: client)

    def collection(self, name: str, *, model: str | None = None) -> Collection | None:
        """The collection `name`, or None; created (tagged with `model`) when `model` is given.
        No embedding function: vectors always come from our own embeddings."""
        from chromadb.errors import NotFoundError

        if model is None:
            try:
                self.on(name, lambda collection: None)
            except (NotFoundError, ValueError):
                return None
            return Collection(self, name)
        self.call(
            lambda client: client.get_or_create_collection(
                name,
                metadata={"embedding_model": model},
                configuration={"hnsw": HNSW},
                embedding_function=None,
            ),
            writes=True,
        )
        return Collection(self, name)

    def drop(self, name: str) -> None:
        from chromadb.errors import NotFoundError

        def delete(client: Any) -> None:
            client.delete_collection(name)

        with contextlib.suppress(NotFoundError, ValueError):
            if self.remote:
                delete(self._server)
                return
            with self._turn(True) as state:
                state.handles.pop(name, None)
                delete(state.client)

    def names(self) -> list[str]:
        found = self.call(lambda client: client.list_collections())
        return [c if isinstance(c, str) else c.name for c in found]


class Collection:
    """One Chroma collection: upsert, delete, count, and cosine searches."""

    def __init__(self, store: Vectors, name: str) -> None:
        self.store = store
        self.name = name

    def _on(self, action: Callable[[Any], T], *, writes: bool = False) -> T:
        return self.store.on(self.name, action, writes=writes)

    @property
    def model(self) -> str:
        return self._on(lambda c: str((c.metadata or {}).get("embedding_model", "")))

    def count(self) -> int:
        return self._on(lambda c: int(c.count()))

    def upsert(
        self, ids: Sequence[str], vectors: Sequence[Sequence[float]], sources: Sequence[str]
    ) -> None:
        for begin in range(0, len(ids), PAGE):
            page = slice(begin, begin + PAGE)
            self._write(
                "upsert",
                ids=list(ids[page]),
                embeddings=np.asarray(vectors[page], dtype=np.float32),
                metadatas=[{"source": s} for s in sources[page]],
            )

    def retag(self, ids: Sequence[str], sources: Sequence[str]) -> None:
        for begin in range(0, len(ids), PAGE):
            page = slice(begin, begin + PAGE)
            self._write(
                "update", ids=list(ids[page]), metadatas=[{"source": s} for s in sources[page]]
            )

    def delete(self, ids: Sequence[str]) -> None:
        for begin in range(0, len(ids), PAGE):
            self._write("delete", ids=list(ids[begin : begin + PAGE]))

    def _write(self, method: str, **arguments: Any) -> None:
        self._on(lambda c: getattr(c, method)(**arguments), writes=True)

    def _get(self, **arguments: Any) -> Any:
        return self._on(lambda c: c.get(**arguments))

    def existing(self, ids: Sequence[str]) -> dict[str, str]:
        """Which of `ids` have a vector, with the source they are tagged with."""
        found: dict[str, str] = {}
        for begin in range(0, len(ids), PAGE):
            got = self._get(ids=list(ids[begin : begin + PAGE]), include=["metadatas"])
            for key, meta in zip(got["ids"], got["metadatas"], strict=True):
                found[str(key)] = str((meta or {}).get("source", ""))
        return found

    def all_ids(self) -> Iterator[str]:
        total = self.count()
        for offset in range(0, total, PAGE):
            yield from (str(key) for key in self.stored_page(offset, [])["ids"])

    def stored_page(self, offset: int, include: Sequence[str]) -> dict[str, Any]:
        """One page of Chroma's own `get` (to read back what an older version stored)."""
        return dict(self._get(limit=PAGE, offset=offset, include=list(include)))

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of some chunks (as many as asked for, never the corpus)."""
        if not ids:
            return {}
        got = self._get(ids=list(ids), include=["embeddings"])
        if got["embeddings"] is None or len(got["embeddings"]) == 0:
            return {}
        return {
            str(key): np.asarray(row, dtype=np.float64)
            for key, row in zip(got["ids"], got["embeddings"], strict=True)
        }

    def _query(self, vector: Sequence[float], **arguments: Any) -> list[tuple[str, float]]:
        got = self._on(
            lambda c: c.query(query_embeddings=[list(vector)], include=["distances"], **arguments)
        )
        return [
            (str(key), 1.0 - float(distance))
            for key, distance in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def search(
        self, vector: Sequence[float], k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Top k (id, cosine similarity), best first."""
        if k <= 0:
            return []
        where = {"source": {"$in": list(sources)}} if sources else None
        return self._query(vector, n_results=k, where=where)
