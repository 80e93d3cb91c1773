"""Chroma + LangChain's record manager: de-duplicated, incremental add / update / prune / remove.

Three stores are kept in step: Chroma holds chunk vectors, the SQL record manager remembers which
chunk hashes belong to which source, and a small SQLite table keeps each document's extracted text
(so citations can be shown and checked as `text == document[start:end]`). The keyword (BM25) side
is derived from Chroma's own contents, so the two can never disagree.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.indexing import index as lc_index

from chatbot.config import Settings
from chatbot.loaders import (
    LoadedDocument,
    LoadLimits,
    MissingDependencyError,
    SkipFile,
    discover,
    load,
)
from chatbot.locking import exclusive, open_lock, write_lock
from chatbot.models import Chunk, FileReport, IngestReport
from chatbot.splitting import split_text

#: Called as progress(stage, done, total) with stage "files" or "embed".
ProgressFn = Callable[[str, int, int], None]

#: Bump when splitting changes in a way that should re-chunk unchanged files.
SPLITTER_VERSION = 3

#: Chunks handed to LangChain's index() per call: several embedding batches, so the embedder
#: can sort a larger pool by length (less padding) and per-call bookkeeping stays small.
WRITE_BATCHES = 16


class IndexError_(RuntimeError):
    """The index cannot be opened or written; the message says what to do."""


class EmbeddingMismatchError(IndexError_):
    """The collection was built with another embedding model."""


class UnknownSourceError(IndexError_):
    """A source name given by the user matches nothing indexed."""


def _noop(stage: str, done: int, total: int) -> None:
    return None


def chunk_id(doc: Document) -> str:
    """Stable id from where the chunk is and what it says (same input, same id, every run)."""
    meta = doc.metadata
    key = f"{meta['source']}\0{meta['start']}\0{meta['end']}\0{doc.page_content}"
    return str(uuid.UUID(hashlib.sha256(key.encode()).hexdigest()[:32]))


def _store_errors() -> tuple[type[BaseException], ...]:
    """Failures of the stores themselves (disk full, read-only, locked, server gone)."""
    from chromadb.errors import ChromaError
    from sqlalchemy.exc import SQLAlchemyError

    return (sqlite3.Error, SQLAlchemyError, ChromaError, OSError)


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
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise IndexError_(f"cannot open the index at {path} ({exc})") from None


def source_name(path: Path) -> str:
    """The path relative to the working directory when it is inside it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _records(settings: Settings) -> Any:
    from langchain_classic.indexes import SQLRecordManager

    records = SQLRecordManager(
        namespace=f"chroma/{settings.collection}",
        db_url=f"sqlite:///{settings.data_dir / 'index.db'}",
    )
    records.create_schema()
    return records


def drop_index(settings: Settings) -> None:
    """Delete the collection, its records and stored texts without opening it (so a rebuild
    works even when the collection was made with another embedding model)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with write_lock(settings):
        client = make_chroma_client(settings)
        with contextlib.suppress(Exception):  # absent already
            client.delete_collection(settings.collection)
        records = _records(settings)
        keys = records.list_keys()
        for begin in range(0, len(keys), 1000):
            records.delete_keys(keys[begin : begin + 1000])
        connection = sqlite3.connect(settings.data_dir / "index.db", timeout=30)
        try:
            with connection:
                _create_schema(connection)
                connection.execute(
                    "DELETE FROM documents WHERE collection = ?", (settings.collection,)
                )
                connection.execute(
                    "INSERT INTO generations VALUES (?, 1) ON CONFLICT(collection) "
                    "DO UPDATE SET value = value + 1",
                    (settings.collection,),
                )
        finally:
            connection.close()


class _Known(NamedTuple):
    """What the documents table remembers about an indexed file."""

    size: int
    mtime_ns: int
    fingerprint: str
    path: str
    recipe: str


@dataclass
class _Pending:
    """A new or changed file, loaded and split, waiting to be written."""

    source: str
    path: Path
    document: LoadedDocument
    fingerprint: str
    chunks: list[Chunk]
    existed: bool
    #: The same file indexed earlier under another name (another working directory).
    replaces: str | None = None
    #: Size and mtime seen before reading, so a file edited during the ingest is read again.
    stat: tuple[int, int] = (0, 0)


class _BatchedEmbeddings(Embeddings):
    """Embeds in `batch_size` pieces sorted by length, reporting each finished batch and
    reusing vectors already stored for identical chunk text of the same sources."""

    def __init__(
        self,
        inner: Embeddings,
        batch_size: int,
        on_batch: Callable[[int], None],
        known: dict[str, list[float]],
    ) -> None:
        self.inner = inner
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.known = known

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = {t: self.known[t] for t in set(texts) if t in self.known}
        missing = sorted(set(texts) - vectors.keys(), key=len)
        if vectors:
            self.on_batch(sum(1 for t in texts if t in vectors))
        for begin in range(0, len(missing), self.batch_size):
            batch = missing[begin : begin + self.batch_size]
            vectors.update(zip(batch, self.inner.embed_documents(batch), strict=True))
            self.on_batch(len(batch))
        return [vectors[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


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
    recipe TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (collection, source)
);
CREATE TABLE IF NOT EXISTS generations (collection TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _create_schema(db: sqlite3.Connection) -> None:
    db.executescript(_SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    if "recipe" not in columns:  # made by an older version
        db.execute("ALTER TABLE documents ADD COLUMN recipe TEXT NOT NULL DEFAULT ''")


class Index:
    """One collection: open it, ingest into it, list and remove its sources, read its chunks."""

    def __init__(self, settings: Settings, embeddings: Embeddings) -> None:
        from langchain_chroma import Chroma

        self.settings = settings
        self.embeddings = embeddings
        self._db_path = settings.data_dir / "index.db"
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._open_with_retry(Chroma)
        except IndexError_:
            raise
        except _store_errors() as exc:
            raise IndexError_(f"cannot open the index under {settings.data_dir} ({exc})") from None

    def _open_with_retry(self, chroma: Any, patience: float = 30.0) -> None:
        """Open Chroma, the collection and the SQLite schemas. Another process writing the
        embedded Chroma at that moment can make SQLite answer "database is locked"; that is
        transient, so wait it out (bounded) instead of failing."""
        settings = self.settings
        deadline = time.monotonic() + patience
        while True:
            try:
                with open_lock(settings):
                    self.client = make_chroma_client(settings)
                    self._check_embedding_model()
                    self.store = chroma(
                        client=self.client,
                        collection_name=settings.collection,
                        embedding_function=self.embeddings,
                        collection_metadata={"embedding_model": settings.embedding_model},
                        collection_configuration={"hnsw": {"space": "cosine"}},
                    )
                    self.records = _records(settings)
                    with self._db() as db:
                        _create_schema(db)
                return
            except IndexError_:
                raise
            except _store_errors() as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

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

    @exclusive(repair_first=False)  # one writer per data dir; see chatbot/locking.py
    def reset(self) -> None:
        """Drop the collection, its records and stored texts (for a rebuild)."""
        drop_index(self.settings)
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

    def resolve_sources(self, names: Sequence[str]) -> list[str]:
        """The indexed sources the user meant: exact names, file paths, or folder prefixes
        ("docs/" selects everything ingested from docs)."""
        indexed = [row["source"] for row in self.sources()]
        chosen: list[str] = []
        for wanted in names:
            candidates = {wanted.strip(), source_name(Path(wanted.strip()))}
            matches = [s for s in indexed if s in candidates]
            if not matches:
                prefixes = {c.rstrip("/") + "/" for c in candidates if c.rstrip("/")}
                matches = [s for s in indexed if any(s.startswith(p) for p in prefixes)]
            if not matches:
                raise UnknownSourceError(
                    f"no indexed source {wanted!r}; indexed sources: "
                    f"{', '.join(indexed) or 'none'} (see `chatbot sources`)"
                )
            chosen.extend(s for s in matches if s not in chosen)
        return chosen

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
    @exclusive()
    def remove(self, source: str) -> int:
        """Delete one source everywhere; returns the number of chunks deleted.

        `source` is a name as listed by `sources()`, or a path to the file it came from.
        """
        known = self._known()
        if source not in known:
            by_path = {row.path: name for name, row in known.items()}
            source = by_path.get(str(Path(source).resolve()), source_name(Path(source)))
        keys = self._ids_of(source)
        if not keys and source not in known:
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

    def _known(self) -> dict[str, _Known]:
        with self._db() as db:
            rows = db.execute(
                "SELECT source, size, mtime_ns, sha256, path, recipe FROM documents "
                "WHERE collection = ?",
                (self.settings.collection,),
            ).fetchall()
        return {r[0]: _Known(*r[1:]) for r in rows}

    def _recipe(self) -> str:
        """The settings that decide how a text is chunked; a change re-chunks every file."""
        return f"{SPLITTER_VERSION}/{self.settings.chunk_size}/{self.settings.chunk_overlap}"

    def _fingerprint(self, document: LoadedDocument) -> str:
        """Changes with the text and with anything that changes how it is chunked."""
        layout = f"{int(document.markdown)}/{','.join(map(str, document.page_starts))}"
        recipe = f"{self._recipe()}/{layout}\0"
        return hashlib.sha256((recipe + document.text).encode()).hexdigest()

    @exclusive()
    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: ProgressFn = _noop,
    ) -> IngestReport:
        """Add new files, replace changed ones, skip unchanged ones, optionally prune deleted.

        Bad files are reported as skipped with a one-line reason; only a failure of the index
        itself raises (IndexError_).
        """
        started = time.perf_counter()
        report = IngestReport()
        try:
            pending = self._read(paths, include, exclude, report, progress)
            self._write(pending, report, progress)
            if prune:
                self._prune(paths, report)
        except _store_errors() as exc:
            raise IndexError_(
                f"could not write the index under {self.settings.data_dir} ({exc}); "
                "files already written stay indexed, run the command again to finish"
            ) from None
        report.seconds = time.perf_counter() - started
        return report

    def _read(
        self,
        paths: Sequence[Path],
        include: Sequence[str],
        exclude: Sequence[str],
        report: IngestReport,
        progress: ProgressFn,
    ) -> list[_Pending]:
        """Load and split new or changed files; unchanged ones are recognised by size and
        mtime first (no read at all), then by the fingerprint of their text."""
        for path in paths:
            if not path.exists():
                report.files.append(FileReport(source_name(path), "skipped", reason="not found"))
        files = discover([p for p in paths if p.exists()], include, exclude)
        known = self._known()
        by_path = {row.path: name for name, row in known.items()}
        limits = LoadLimits.from_settings(self.settings)
        pending: list[_Pending] = []
        touched: list[tuple[Any, ...]] = []
        progress("files", 0, len(files))
        for done, path in enumerate(files, 1):
            item = self._read_one(path, known, by_path, limits, report, touched)
            if item is not None:
                pending.append(item)
            progress("files", done, len(files))
        if touched:  # same text, new mtime: remember the new stat so the next run skips reading
            with self._db() as db:
                db.executemany(
                    "UPDATE documents SET size = ?, mtime_ns = ?, recipe = ? "
                    "WHERE collection = ? AND source = ?",
                    touched,
                )
        return pending

    def _read_one(
        self,
        path: Path,
        known: dict[str, _Known],
        by_path: dict[str, str],
        limits: LoadLimits,
        report: IngestReport,
        touched: list[tuple[Any, ...]],
    ) -> _Pending | None:
        source = source_name(path)
        replaces = None
        if source not in known and str(path.resolve()) in by_path:
            replaces = by_path[str(path.resolve())]
        previous = known.get(source) or (known[replaces] if replaces else None)
        try:
            stat = path.stat()
        except OSError as exc:
            report.files.append(FileReport(source, "skipped", reason=f"cannot read ({exc})"))
            return None
        if (
            previous
            and not replaces
            and (previous.size, previous.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            and previous.recipe == self._recipe()
        ):
            report.files.append(FileReport(source, "unchanged"))
            return None
        kept = " (its previous version stays indexed)" if previous else ""
        try:
            document = load(path, limits)
        except SkipFile as exc:
            report.files.append(FileReport(source, "skipped", reason=f"{exc}{kept}"))
            return None
        except MissingDependencyError:  # an install problem: stop once, not skip every file
            raise
        except Exception as exc:  # a parser choking on a corrupt file is a user error
            reason = f"could not be read: {type(exc).__name__}: {exc}".splitlines()[0][:200]
            report.files.append(FileReport(source, "skipped", reason=f"{reason}{kept}"))
            return None
        fingerprint = self._fingerprint(document)
        if previous and not replaces and previous.fingerprint == fingerprint:
            row = (stat.st_size, stat.st_mtime_ns, self._recipe(), self.settings.collection, source)
            touched.append(row)
            report.files.append(FileReport(source, "unchanged"))
            return None
        chunks = split_text(
            document.text,
            source,
            self.settings.chunk_size,
            self.settings.chunk_overlap,
            markdown=document.markdown,
            page_starts=document.page_starts,
        )
        if not chunks:
            reason = f"no text to index (only repeated boilerplate){kept}"
            report.files.append(FileReport(source, "skipped", reason=reason))
            return None
        return _Pending(
            source,
            path,
            document,
            fingerprint,
            chunks,
            previous is not None,
            replaces,
            (stat.st_size, stat.st_mtime_ns),
        )

    def _reusable_vectors(self, pending: Sequence[_Pending]) -> dict[str, list[float]]:
        """Stored vectors of changed sources by chunk text: an edit re-embeds only new text."""
        vectors: dict[str, list[float]] = {}
        for item in pending:
            for source in [item.source] + ([item.replaces] if item.replaces else []):
                got = self.store.get(where={"source": source}, include=["documents", "embeddings"])
                for text, vector in zip(got["documents"], got["embeddings"], strict=True):
                    vectors[text] = [float(v) for v in vector]
        return vectors

    def _write(
        self, pending: Sequence[_Pending], report: IngestReport, progress: ProgressFn
    ) -> None:
        """Embed new chunk hashes in batches, then drop each changed source's stale chunks.

        Order matters for crash safety: vectors are upserted (idempotent ids) before the record
        manager learns about them, and a document row is written only after all its chunks are,
        so an interrupted run is simply redone by the next one.
        """
        from langchain_chroma import Chroma

        docs = [
            Document(page_content=c.text, metadata=c.metadata())
            for item in pending
            for c in item.chunks
        ]
        total = len(docs)
        progress("embed", 0, total)
        done = 0

        def on_batch(count: int) -> None:
            nonlocal done
            done = min(done + count, total)
            progress("embed", done, total)

        embedder = _BatchedEmbeddings(
            self.embeddings,
            self.settings.embed_batch_size,
            on_batch,
            self._reusable_vectors([p for p in pending if p.existed]),
        )
        writer = Chroma(
            client=self.client,
            collection_name=self.settings.collection,
            embedding_function=embedder,
            create_collection_if_not_exists=False,
        )
        step = self.settings.embed_batch_size * WRITE_BATCHES
        waiting = list(pending)
        ends = list(itertools.accumulate(len(item.chunks) for item in pending))
        for begin in range(0, total, step):
            batch = docs[begin : begin + step]
            result = lc_index(
                batch,
                self.records,
                writer,
                cleanup=None,
                source_id_key="source",
                batch_size=len(batch),
                key_encoder=chunk_id,
            )
            report.chunks_written += result["num_added"]
            done = min(begin + len(batch), total)  # chunks already stored were not embedded
            progress("embed", done, total)
            # Record the files whose chunks are all stored now (one transaction per batch).
            complete = 0
            while complete < len(waiting) and ends[complete] <= begin + len(batch):
                complete += 1
            self._commit(waiting[:complete], report)
            waiting, ends = waiting[complete:], ends[complete:]
        self._commit(waiting, report)  # files whose chunks were all stored already

    def _ids_by_source(self, sources: Sequence[str]) -> dict[str, set[str]]:
        """Chunk ids of many sources at once, read from Chroma (the store that answers)."""
        found: dict[str, set[str]] = {source: set() for source in sources}
        names = sorted(found)
        for begin in range(0, len(names), 500):
            where: dict[str, Any] = {"source": {"$in": names[begin : begin + 500]}}
            got = self.store.get(where=where, include=["metadatas"])
            for chunk, meta in zip(got["ids"], got["metadatas"], strict=True):
                found[str(meta["source"])].add(chunk)
        return found

    def _commit(self, items: Sequence[_Pending], report: IngestReport) -> None:
        """Drop the chunks the new versions no longer have, then record the files, together."""
        if not items:
            return
        names = [i.source for i in items] + [i.replaces for i in items if i.replaces]
        stored = self._ids_by_source(names)
        stale: set[str] = set()
        for item in items:
            fresh = {
                chunk_id(Document(page_content=c.text, metadata=c.metadata()))
                for c in item.chunks
            }
            stale |= stored[item.source] - fresh
            if item.replaces:
                stale |= stored[item.replaces]
        self._delete_keys(sorted(stale))
        report.chunks_deleted += len(stale)
        rows = []
        for item in items:
            rows.append(
                (
                    self.settings.collection,
                    item.source,
                    str(item.path.resolve()),
                    *item.stat,
                    item.fingerprint,
                    item.document.text,
                    len(item.chunks),
                    ",".join(map(str, item.document.page_starts)),
                    time.time(),
                    self._recipe(),
                )
            )
        with self._db() as db:
            db.executemany(
                "DELETE FROM documents WHERE collection = ? AND source = ?",
                [(self.settings.collection, i.replaces) for i in items if i.replaces],
            )
            db.executemany(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            self._bump(db)
        for item in items:
            status = "updated" if item.existed else "added"
            report.files.append(FileReport(item.source, status, chunks=len(item.chunks)))

    def _prune(self, paths: Sequence[Path], report: IngestReport) -> None:
        """Remove sources whose files no longer exist under the given paths."""
        roots = [p.resolve() for p in paths]
        for source, row in sorted(self._known().items()):
            path = Path(row.path)
            under = any(path == r or r in path.parents for r in roots)
            if under and not path.exists():
                deleted = self.remove(source)
                report.chunks_deleted += deleted
                report.files.append(FileReport(source, "removed", chunks=deleted))
