"""Chroma, kept to what it is good at: chunk vectors with a `source` tag, searched by cosine.

Chunk texts, offsets and the keyword index live in index.db (chatbot/index.py); Chroma holds
only ids, vectors and the source name (for `--source` filters). Embedded Chroma lives under
`<data_dir>/chroma`; with CHROMA_HOST set, a Chroma server holds the vectors instead.

An embedded Chroma keeps its vector index in memory and never sees what another process wrote
to the same folder (search misses the new chunks, and reading their vectors fails with "Error
finding id"). So embedded clients are shared per folder within a process, and `reload()` opens
a fresh one when the records say another process has written (see `Index.snapshot`). A server
has no such problem: every client sees its current state.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.config import Settings

#: HNSW settings of new collections.
HNSW = {"space": "cosine"}
#: Ids per Chroma call.
PAGE = 5000


class VectorStoreError(RuntimeError):
    """Chroma cannot be opened or reached; the message says what to do."""


@dataclass
class _Embedded:
    """One process-wide embedded Chroma for a folder; `token` names this opening."""

    client: Any
    token: str


_embedded: dict[Path, _Embedded] = {}
_embedded_guard = threading.Lock()


def _open_embedded(path: Path) -> _Embedded:
    """A client on a System of its own, so that a reload really reads the folder again
    (`chromadb.PersistentClient` would hand back the cached one)."""
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
    return _Embedded(Client.from_system(system), uuid.uuid4().hex)


class Vectors:
    """The Chroma side of one data dir (embedded or server): its collections."""

    def __init__(self, settings: Settings) -> None:
        self.remote = bool(settings.chroma_host)
        self._path = (settings.data_dir / "chroma").resolve()
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
                self._client()
        except Exception as exc:
            if self.remote:
                raise VectorStoreError(
                    f"cannot reach the Chroma server at {settings.chroma_host}:"
                    f"{settings.chroma_port} ({exc}); start it (`chroma run --path DIR`) or unset "
                    "CHROMA_HOST"
                ) from None
            raise VectorStoreError(f"cannot open the vectors at {self._path} ({exc})") from None

    def client(self) -> Any:
        """The chromadb client (for callers that need a collection of their own)."""
        return self._client()

    def _client(self) -> Any:
        if self.remote:
            return self._server
        with _embedded_guard:
            if self._path not in _embedded:
                _embedded[self._path] = _open_embedded(self._path)
            return _embedded[self._path].client

    @property
    def token(self) -> str:
        """Which opening of the embedded store this process reads ("" for a server)."""
        if self.remote:
            return ""
        self._client()
        return _embedded[self._path].token

    def reload(self, seen: str) -> None:
        """Open the embedded store afresh (another process wrote to it), unless another thread
        already did since `seen` was read."""
        if self.remote:
            return
        with _embedded_guard:
            current = _embedded.get(self._path)
            if current is None or current.token == seen:
                _embedded[self._path] = _open_embedded(self._path)

    def collection(self, name: str, *, model: str | None = None) -> Collection | None:
        """The collection `name`, or None; created (tagged with `model`) when `model` is given.
        No embedding function: vectors always come from our own embeddings."""
        from chromadb.errors import NotFoundError

        client = self._client()
        if model is None:
            try:
                return Collection(client.get_collection(name, embedding_function=None))
            except (NotFoundError, ValueError):
                return None
        return Collection(
            client.get_or_create_collection(
                name,
                metadata={"embedding_model": model},
                configuration={"hnsw": HNSW},
                embedding_function=None,
            )
        )

    def drop(self, name: str) -> None:
        from chromadb.errors import NotFoundError

        with contextlib.suppress(NotFoundError, ValueError):
            self._client().delete_collection(name)

    def names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self._client().list_collections()]


class Collection:
    """One Chroma collection: upsert, delete, count, and cosine searches."""

    def __init__(self, chroma: Any) -> None:
        self.chroma = chroma

    @property
    def model(self) -> str:
        return str((self.chroma.metadata or {}).get("embedding_model", ""))

    def count(self) -> int:
        return int(self.chroma.count())

    def upsert(
        self, ids: Sequence[str], vectors: Sequence[Sequence[float]], sources: Sequence[str]
    ) -> None:
        for begin in range(0, len(ids), PAGE):
            end = begin + PAGE
            self.chroma.upsert(
                ids=list(ids[begin:end]),
                embeddings=np.asarray(vectors[begin:end], dtype=np.float32),
                metadatas=[{"source": s} for s in sources[begin:end]],
            )

    def retag(self, ids: Sequence[str], sources: Sequence[str]) -> None:
        for begin in range(0, len(ids), PAGE):
            end = begin + PAGE
            self.chroma.update(
                ids=list(ids[begin:end]), metadatas=[{"source": s} for s in sources[begin:end]]
            )

    def delete(self, ids: Sequence[str]) -> None:
        for begin in range(0, len(ids), PAGE):
            self.chroma.delete(ids=list(ids[begin : begin + PAGE]))

    def existing(self, ids: Sequence[str]) -> dict[str, str]:
        """Which of `ids` have a vector, with the source they are tagged with."""
        found: dict[str, str] = {}
        for begin in range(0, len(ids), PAGE):
            got = self.chroma.get(ids=list(ids[begin : begin + PAGE]), include=["metadatas"])
            for key, meta in zip(got["ids"], got["metadatas"], strict=True):
                found[str(key)] = str((meta or {}).get("source", ""))
        return found

    def all_ids(self) -> Iterator[str]:
        total = self.count()
        for offset in range(0, total, PAGE):
            got = self.chroma.get(limit=PAGE, offset=offset, include=[])
            yield from (str(key) for key in got["ids"])

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of some chunks (as many as asked for, never the corpus)."""
        if not ids:
            return {}
        got = self.chroma.get(ids=list(ids), include=["embeddings"])
        if got["embeddings"] is None or len(got["embeddings"]) == 0:
            return {}
        return {
            str(key): np.asarray(row, dtype=np.float64)
            for key, row in zip(got["ids"], got["embeddings"], strict=True)
        }

    def search(
        self, vector: Sequence[float], k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Top k (id, cosine similarity), best first."""
        if k <= 0:
            return []
        where: dict[str, Any] | None = None
        if sources:
            where = {"source": {"$in": list(sources)}}
        got = self.chroma.query(
            query_embeddings=[list(vector)], n_results=k, where=where, include=["distances"]
        )
        return [
            (str(key), 1.0 - float(distance))
            for key, distance in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def cosines(self, vector: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        """Exact cosine similarity of the given chunks, computed by Chroma (no vectors move)."""
        if not ids:
            return {}
        got = self.chroma.query(
            query_embeddings=[list(vector)], ids=list(ids), n_results=len(ids),
            include=["distances"],
        )
        return {
            str(key): 1.0 - float(distance)
            for key, distance in zip(got["ids"][0], got["distances"][0], strict=True)
        }
