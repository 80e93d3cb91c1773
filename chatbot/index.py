"""Chroma + LangChain's record manager: de-duplicated, incremental add / update / prune / remove.

Three stores are kept in step: Chroma holds chunk vectors, the SQL record manager remembers which
chunk hashes belong to which source, and a small SQLite table keeps each document's extracted text
(so citations can be shown and checked as `text == document[start:end]`). The keyword (BM25) side
is derived from Chroma's own contents, so the two can never disagree.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import uuid
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.indexing import index as lc_index

from chatbot.config import Settings
from chatbot.loaders import SkipFile, discover, load
from chatbot.models import Chunk
from chatbot.splitting import split_text

#: Called as progress(stage, done, total) with stage "files" or "embed".
ProgressFn = Callable[[str, int, int], None]


class IndexError_(RuntimeError):
    """The index cannot be opened or written; the message says what to do."""


class EmbeddingMismatchError(IndexError_):
    """The collection was built with another embedding model."""


def _noop(stage: str, done: int, total: int) -> None:
    return None


def chunk_id(doc: Document) -> str:
    """Stable id from where the chunk is and what it says (same input, same id, every run)."""
    meta = doc.metadata
    key = f"{meta['source']}\0{meta['start']}\0{meta['end']}\0{doc.page_content}"
    return str(uuid.UUID(hashlib.sha256(key.encode()).hexdigest()[:32]))


def make_chroma_client(settings: Settings) -> Any:
    """Embedded PersistentClient under data_dir, or HttpClient when CHROMA_HOST is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as exc:
            raise IndexError_(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                f"({exc}); start it (`chroma run`) or unset CHROMA_HOST"
            ) from None
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def source_name(path: Path) -> str:
    """The path relative to the working directory when it is inside it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


@dataclass
class FileReport:
    source: str
    status: str  # added | updated | unchanged | removed | skipped
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> str:
        return (
            f"{self.count('added')} added, {self.count('updated')} updated, "
            f"{self.count('unchanged')} unchanged, {self.count('removed')} removed, "
            f"{self.count('skipped')} skipped; {self.chunks_written} chunks written, "
            f"{self.chunks_deleted} deleted in {self.seconds:.1f} s"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "files": [vars(f) for f in self.files],
            "added": self.count("added"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "removed": self.count("removed"),
            "skipped": self.count("skipped"),
            "chunks_written": self.chunks_written,
            "chunks_deleted": self.chunks_deleted,
            "seconds": round(self.seconds, 3),
        }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    text TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    page_starts TEXT NOT NULL DEFAULT '',
    indexed_at REAL NOT NULL,
    PRIMARY KEY (collection, source)
);
CREATE TABLE IF NOT EXISTS generations (collection TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Index:
    """One collection: open it, ingest into it, list and remove its sources, read its chunks."""

    def __init__(self, settings: Settings, embeddings: Embeddings) -> None:
        from langchain_chroma import Chroma
        from langchain_classic.indexes import SQLRecordManager

        self.settings = settings
        self.embeddings = embeddings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.client = make_chroma_client(settings)
        self._check_embedding_model()
        self.store = Chroma(
            client=self.client,
            collection_name=settings.collection,
            embedding_function=embeddings,
            collection_metadata={"embedding_model": settings.embedding_model},
            collection_configuration={"hnsw": {"space": "cosine"}},
        )
        db_path = settings.data_dir / "index.db"
        self.records = SQLRecordManager(
            namespace=f"chroma/{settings.collection}", db_url=f"sqlite:///{db_path}"
        )
        self.records.create_schema()
        self._db_path = db_path
        with self._db() as db:
            db.executescript(_SCHEMA)

    # --- lifecycle -------------------------------------------------------------------------
    def _check_embedding_model(self) -> None:
        names = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
        if self.settings.collection not in names:
            return
        metadata = self.client.get_collection(self.settings.collection).metadata or {}
        built_with = metadata.get("embedding_model")
        if built_with and built_with != self.settings.embedding_model:
            raise EmbeddingMismatchError(
                f"collection {self.settings.collection!r} was built with embedding model "
                f"{built_with!r}, but CHATBOT_EMBEDDING_MODEL is "
                f"{self.settings.embedding_model!r}. Mixing them would break search. Either "
                f"set CHATBOT_EMBEDDING_MODEL={built_with} (and the matching provider), use "
                "another CHATBOT_COLLECTION, or rebuild with `chatbot ingest --rebuild`."
            )

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self._db_path, timeout=30)
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def reset(self) -> None:
        """Drop the collection, its records and stored texts (for a rebuild)."""
        with contextlib.suppress(Exception):
            self.client.delete_collection(self.settings.collection)
        keys = self.records.list_keys()
        for begin in range(0, len(keys), 1000):
            self.records.delete_keys(keys[begin : begin + 1000])
        with self._db() as db:
            db.execute("DELETE FROM documents WHERE collection = ?", (self.settings.collection,))
            self._bump(db)
        self.__init__(self.settings, self.embeddings)  # type: ignore[misc]

    # --- reading ---------------------------------------------------------------------------
    def generation(self) -> int:
        """Changes whenever the collection changes; caches of derived data key on it."""
        with self._db() as db:
            row = db.execute(
                "SELECT value FROM generations WHERE collection = ?", (self.settings.collection,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO generations VALUES (?, 1) ON CONFLICT(collection) "
            "DO UPDATE SET value = value + 1",
            (self.settings.collection,),
        )

    def count(self) -> int:
        return int(self.store._collection.count())

    def document_text(self, source: str) -> str | None:
        with self._db() as db:
            row = db.execute(
                "SELECT text FROM documents WHERE collection = ? AND source = ?",
                (self.settings.collection, source),
            ).fetchone()
        return str(row[0]) if row else None

    def sources(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT source, chunks, length(text), indexed_at FROM documents "
                "WHERE collection = ? ORDER BY source",
                (self.settings.collection,),
            ).fetchall()
        return [
            {
                "source": source,
                "chunks": chunks,
                "characters": chars,
                "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(at)),
            }
            for source, chunks, chars, at in rows
        ]

    def all_chunks(self, batch: int = 5000) -> list[Document]:
        """Every chunk in the collection with its id (for the keyword index)."""
        total = self.count()
        docs: list[Document] = []
        for offset in range(0, total, batch):
            got = self.store.get(limit=batch, offset=offset, include=["documents", "metadatas"])
            for doc_id, text, meta in zip(
                got["ids"], got["documents"], got["metadatas"], strict=True
            ):
                docs.append(Document(id=doc_id, page_content=text, metadata=dict(meta or {})))
        return docs

    # --- writing ---------------------------------------------------------------------------
    def remove(self, source: str) -> int:
        """Delete one source everywhere; returns the number of chunks deleted."""
        keys = self._ids_of(source)
        with self._db() as db:
            exists = db.execute(
                "SELECT 1 FROM documents WHERE collection = ? AND source = ?",
                (self.settings.collection, source),
            ).fetchone()
        if not keys and not exists:
            raise KeyError(source)
        self._delete_keys(keys)
        with self._db() as db:
            db.execute(
                "DELETE FROM documents WHERE collection = ? AND source = ?",
                (self.settings.collection, source),
            )
            self._bump(db)
        return len(keys)

    def _ids_of(self, source: str) -> list[str]:
        """Chunk ids of one source, read from Chroma itself (the store that answers queries)."""
        got = self.store.get(where={"source": source}, include=[])
        return list(got["ids"])

    def _delete_keys(self, keys: Sequence[str]) -> None:
        for begin in range(0, len(keys), 1000):
            batch = list(keys[begin : begin + 1000])
            self.store.delete(ids=batch)
            self.records.delete_keys(batch)

    def _known(self) -> dict[str, tuple[int, int, str, str]]:
        with self._db() as db:
            rows = db.execute(
                "SELECT source, size, mtime_ns, sha256, path FROM documents WHERE collection = ?",
                (self.settings.collection,),
            ).fetchall()
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: ProgressFn = _noop,
    ) -> IngestReport:
        """Add new files, replace changed ones, skip unchanged ones, optionally prune deleted."""
        started = time.perf_counter()
        report = IngestReport()
        for path in paths:
            if not path.exists():
                report.files.append(FileReport(source_name(path), "skipped", reason="not found"))
        files = discover([p for p in paths if p.exists()], include, exclude)
        known = self._known()
        max_bytes = int(self.settings.max_file_mb * 2**20)
        pending: list[tuple[str, Path, Any, str, list[Chunk], bool]] = []
        for done, path in enumerate(files, 1):
            progress("files", done - 1, len(files))
            source = source_name(path)
            stat = path.stat()
            previous = known.get(source)
            if previous and previous[:2] == (stat.st_size, stat.st_mtime_ns):
                report.files.append(FileReport(source, "unchanged"))
                continue
            try:
                document = load(path, max_bytes)
            except SkipFile as exc:
                report.files.append(FileReport(source, "skipped", reason=str(exc)))
                continue
            except Exception as exc:  # a parser choking on a corrupt file is a user error
                reason = f"could not be read: {type(exc).__name__}: {exc}".splitlines()[0]
                report.files.append(FileReport(source, "skipped", reason=reason[:200]))
                continue
            digest = hashlib.sha256(document.text.encode()).hexdigest()
            if previous and previous[2] == digest:
                with self._db() as db:
                    db.execute(
                        "UPDATE documents SET size = ?, mtime_ns = ? "
                        "WHERE collection = ? AND source = ?",
                        (stat.st_size, stat.st_mtime_ns, self.settings.collection, source),
                    )
                report.files.append(FileReport(source, "unchanged"))
                continue
            chunks = split_text(
                document.text,
                source,
                self.settings.chunk_size,
                self.settings.chunk_overlap,
                markdown=document.markdown,
                page_starts=document.page_starts,
            )
            if not chunks:
                report.files.append(FileReport(source, "skipped", reason="no text to index"))
                continue
            pending.append((source, path, document, digest, chunks, previous is not None))
        progress("files", len(files), len(files))
        self._write(pending, report, progress)
        if prune:
            roots = [p.resolve() for p in paths]
            for source, (_, _, _, path_text) in sorted(known.items()):
                path = Path(path_text)
                under = any(path == r or r in path.parents for r in roots)
                if under and not path.exists():
                    deleted = self.remove(source)
                    report.chunks_deleted += deleted
                    report.files.append(FileReport(source, "removed", chunks=deleted))
        report.seconds = time.perf_counter() - started
        return report

    def _write(
        self,
        pending: Sequence[tuple[str, Path, Any, str, list[Chunk], bool]],
        report: IngestReport,
        progress: ProgressFn,
    ) -> None:
        """Embed new chunk hashes in batches, then drop each changed source's stale chunks.

        Order matters for crash safety: vectors are upserted (idempotent ids) before the record
        manager learns about them, and a document row is written only after all its chunks are,
        so an interrupted run is simply redone by the next one.
        """
        docs = [
            Document(page_content=c.text, metadata=c.metadata())
            for _, _, _, _, chunks, _ in pending
            for c in chunks
        ]
        step = self.settings.embed_batch_size
        progress("embed", 0, len(docs))
        for begin in range(0, len(docs), step):
            result = lc_index(
                docs[begin : begin + step],
                self.records,
                self.store,
                cleanup=None,
                source_id_key="source",
                batch_size=step,
                key_encoder=chunk_id,
            )
            report.chunks_written += result["num_added"]
            progress("embed", min(begin + step, len(docs)), len(docs))
        for source, path, document, digest, chunks, existed in pending:
            fresh = [chunk_id(Document(page_content=c.text, metadata=c.metadata())) for c in chunks]
            # index() refreshes unchanged chunks without their group id; restore it.
            self.records.update(fresh, group_ids=[source] * len(fresh))
            stale = sorted(set(self._ids_of(source)) - set(fresh))
            self._delete_keys(stale)
            report.chunks_deleted += len(stale)
            stat = path.stat()
            with self._db() as db:
                db.execute(
                    "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.settings.collection,
                        source,
                        str(path.resolve()),
                        stat.st_size,
                        stat.st_mtime_ns,
                        digest,
                        document.text,
                        len(chunks),
                        ",".join(map(str, document.page_starts)),
                        time.time(),
                    ),
                )
                self._bump(db)
            report.files.append(
                FileReport(source, "updated" if existed else "added", chunks=len(chunks))
            )


