"""The store of one collection: records and keyword index in SQLite, vectors in Chroma.

`<data_dir>/index.db` (chatbot/records.py) holds every document's extracted text, every chunk's
offsets and text, and the FTS5 keyword index (chatbot/keyword.py), all changed together in one
transaction; Chroma (chatbot/vectors.py) holds the chunk vectors. SQLite is the record of what
is indexed: vectors are written before the transaction that commits their chunks and deleted
after the one that drops them, and readers resolve every hit through the records, so a
question sees exactly the committed index even while another process writes.

Reading goes through `snapshot()` (one consistent view per question); writing is done by the
ingest stage (chatbot/ingest.py), `remove()` and repair (chatbot/locking.py), all under the
data dir's write lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from chatbot import records
from chatbot.config import DEFAULT_COLLECTION, Settings
from chatbot.errors import NotFoundError, StoreError

# Re-exported: ingest, embed, upgrade and tests import these from here.
from chatbot.index_values import DocumentWrite as DocumentWrite
from chatbot.index_values import Space as Space
from chatbot.index_values import WriteResult as WriteResult
from chatbot.index_values import chunk_id as chunk_id
from chatbot.index_values import new_physical as new_physical
from chatbot.locking import exclusive, open_lock
from chatbot.models import IngestReport, Passage, SourceRecord, indexed_text
from chatbot.records import KnownDocument, transaction
from chatbot.snapshot import Snapshot
from chatbot.vectors import Collection, Vectors, VectorStoreError

#: Called as progress(stage, done, total).
ProgressFn = Callable[[str, int, int], None]


class IndexError_(StoreError):
    """The index cannot be opened or written; the message says what to do."""


class EmbeddingMismatchError(IndexError_):
    """The collection was built with another embedding model."""


class UnknownSourceError(IndexError_, NotFoundError):
    """A source name given by the user matches nothing indexed."""


def _noop(stage: str, done: int, total: int) -> None:
    return None


def store_errors() -> tuple[type[BaseException], ...]:
    """Failures of the stores themselves (disk full, read-only, locked, server gone)."""
    from chromadb.errors import ChromaError

    return (sqlite3.Error, ChromaError, VectorStoreError, OSError)


class Index:
    """One collection: read it through snapshots, write it through ingest, remove and repair."""

    def __init__(
        self, settings: Settings, embeddings: Embeddings, *, check_model: bool = True
    ) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.name = settings.collection
        self.db_path = settings.data_dir / "index.db"
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            with open_lock(settings):
                self.vectors = Vectors(settings)
                with self.connection() as db:
                    records.create_schema(db)
                self.adopt()
        except VectorStoreError as exc:
            raise IndexError_(str(exc)) from None
        except store_errors() as exc:
            raise IndexError_(f"cannot open the index under {settings.data_dir} ({exc})") from None
        if check_model:
            self._check_embedding_model()
        from chatbot.locking import heal

        heal(self)

    # --- plumbing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection to index.db (autocommit; see `records.transaction`)."""
        db = records.connect(self.db_path)
        try:
            yield db
        finally:
            db.close()

    def registered(self) -> None:
        """Before a write: register it again if another process deleted it meanwhile."""
        with self.connection() as db:
            if records.spaces(db, self.name)[0] is None:
                self.adopt()

    def adopt(self) -> None:
        """Register the collection on first use; an index written by an older version gets its
        chunk rows and keyword index from what its Chroma collection stores."""
        with self.connection() as db, transaction(db, write=True):
            active = records.spaces(db, self.name)[0]
            records.keyword_index(active or self.name).create(db)
            if active is not None:
                return
            db.execute("INSERT INTO collections VALUES (?, ?, NULL, 0)", (self.name, self.name))
            old = db.execute(
                "SELECT count(*) FROM documents WHERE collection = ?", (self.name,)
            ).fetchone()[0]
            if old:
                from chatbot.migrate import chunks_from_chroma

                collection = self.vectors.collection(self.name)
                rows = chunks_from_chroma(collection) if collection else []
                records.insert_chunks(db, self.name, rows)
            records.bump(db, self.name)

    def active(self) -> Space:
        with self.connection() as db:
            physical = records.spaces(db, self.name)[0]
        return Space(physical or self.name)

    def collection(self, space: Space, *, create: bool = False) -> Collection | None:
        """The Chroma collection of a copy (None if it has none yet, or lost it)."""
        model = self.settings.embedding_model if create else None
        return self.vectors.collection(space.physical, model=model)

    def _check_embedding_model(self) -> None:
        collection = self.collection(self.active())
        built_with = collection.model if collection else ""
        if built_with and built_with != self.settings.embedding_model:
            option = "" if self.name == DEFAULT_COLLECTION else f" --collection {self.name}"
            raise EmbeddingMismatchError(
                f"collection {self.name!r} was built with embedding model "
                f"{built_with!r}, but CHATBOT_EMBEDDING_MODEL is "
                f"{self.settings.embedding_model!r}. Mixing them would break search. Either "
                f"set CHATBOT_EMBEDDING_MODEL={built_with} (and the matching provider), use "
                f"another collection, or rebuild with `chatbot ingest --rebuild{option}`."
            )

    # --- reading ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One consistent view of the committed index (for one question)."""
        with self.connection() as db, transaction(db, write=False):
            space = Space(records.spaces(db, self.name)[0] or self.name)
            yield Snapshot(db, space.physical, space.keyword, self.collection(space))

    def generation(self) -> int:
        """Changes whenever the collection changes; caches of derived data key on it."""
        with self.connection() as db:
            return records.spaces(db, self.name)[2]

    def count(self) -> int:
        """Chunks committed to the active copy."""
        space = self.active()
        with self.connection() as db:
            return space.keyword.rows(db)

    def document_text(self, source: str) -> str | None:
        space = self.active()
        with self.connection() as db:
            row = db.execute(
                "SELECT text FROM documents WHERE collection = ? AND source = ?",
                (space.physical, source),
            ).fetchone()
        return str(row[0]) if row else None

    def sources(self) -> list[SourceRecord]:
        space = self.active()
        with self.connection() as db:
            rows = db.execute(
                "SELECT source, path, root, chunks, length(text), indexed_at FROM documents "
                "WHERE collection = ? ORDER BY source",
                (space.physical,),
            ).fetchall()
        return [SourceRecord(*row) for row in rows]

    def resolve_sources(self, names: Sequence[str]) -> list[str]:
        """The indexed sources the user meant: exact names, paths of files or folders (from
        the current directory), or name prefixes ("docs/" selects every name under docs/)."""
        indexed = self.sources()
        chosen: list[str] = []
        for wanted in names:
            matches = _matching(indexed, wanted.strip())
            if not matches:
                listing = ", ".join(r.source for r in indexed) or "none"
                raise UnknownSourceError(
                    f"no indexed source {wanted!r}; indexed sources: {listing} "
                    "(see `chatbot sources`)"
                )
            chosen.extend(s for s in matches if s not in chosen)
        return chosen

    def chunks(self, sources: Sequence[str]) -> list[Passage]:
        """Every chunk of some sources, in the given source order, then reading order."""
        with self.snapshot() as snap:
            return snap.chunks(sources)

    # --- writing (callers hold the write lock) ----------------------------------------------
    def known(
        self, space: Space | None = None, paths: Sequence[str] | None = None,
        *, under: bool = False,
    ) -> dict[str, KnownDocument]:
        """Indexed files (all, or those at some resolved paths, with `under` also those below
        them), by resolved path."""
        with self.connection() as db:
            return records.known(db, (space or self.active()).physical, paths, under=under)

    def stored_ids(
        self, space: Space, path: str, fingerprint: str | None = None
    ) -> dict[str, str]:
        """Committed chunk ids of one file, with what was embedded for them (see
        `Chunk.embedded_text`); for a file not indexed yet, those of an indexed file with the
        same `fingerprint` (it was moved or copied: its vectors can be reused), if one is given."""
        with self.connection() as db:
            row = records.known_path(db, space.physical, path)
            if row is None and fingerprint is not None:
                row = records.twin(db, space.physical, fingerprint)
            if row is None:
                return {}
            found = db.execute(
                "SELECT id, context, embed_context, text FROM chunks "
                "WHERE collection = ? AND source = ?",
                (space.physical, row.source),
            ).fetchall()
        return {
            str(key): indexed_text(str(context) if embedded else "", str(text))
            for key, context, embedded, text in found
        }

    def commit(self, space: Space, writes: Sequence[DocumentWrite]) -> list[WriteResult]:
        """Write some files: vectors first, then one transaction for their records, chunks and
        keyword entries (against the records as they are now, not as they were when the files
        were read), then the deletion of vectors no longer used."""
        from chatbot.writes import apply_writes

        with self.connection() as db:
            return apply_writes(self, db, space, writes)

    def ingest(self, paths: Sequence[Path], **options: Any) -> IngestReport:
        """Convenience for `chatbot.ingest.ingest(self, paths, ...)`, the ingestion stage."""
        from chatbot.ingest import ingest

        return ingest(self, paths, **options)

    @exclusive()
    def remove(self, source: str) -> int:
        """Delete one source everywhere; returns the number of chunks deleted.

        `source` is a name as listed by `sources()`, or a path to the file it came from.
        """
        indexed = self.sources()
        names = {r.source for r in indexed}
        if source not in names:
            path = str(Path(source).expanduser().resolve())
            source = next((r.source for r in indexed if r.path == path), source)
        if source not in names:
            listing = ", ".join(sorted(names)) or "none"
            raise UnknownSourceError(f"no indexed source {source!r} (indexed: {listing})")
        return self.remove_sources(self.active(), [source])[source]

    def remove_sources(self, space: Space, names: Sequence[str]) -> dict[str, int]:
        """Delete sources (records, chunks, keyword entries, then vectors)."""
        with self.connection() as db, transaction(db, write=True):
            gone = {name: records.delete_document(db, space.physical, name) for name in names}
            records.bump(db, self.name)
        collection = self.collection(space)
        if collection is not None:
            collection.delete([key for ids in gone.values() for key in ids])
        return {name: len(ids) for name, ids in gone.items()}

    # --- consistency and rebuilds (callers hold the write lock) -----------------------------
    def needs_repair(self) -> bool:
        """Vectors are missing for recorded chunks, or a rebuild was left unfinished."""
        with self.connection() as db:
            building = records.spaces(db, self.name)[1]
        recorded, stored = self.counts()
        return building is not None or stored < recorded

    def restore_vectors(self, *, thorough: bool) -> int:
        from chatbot.writes import restore_vectors

        return restore_vectors(self, self.active(), thorough=thorough)

    def drop_orphans(self, space: Space | None = None) -> int:
        from chatbot.writes import drop_orphans

        return drop_orphans(self, space or self.active())

    def begin_rebuild(self) -> Space:
        from chatbot.writes import begin_rebuild

        return begin_rebuild(self)

    def finish_rebuild(self, space: Space) -> None:
        from chatbot.writes import finish_rebuild

        finish_rebuild(self, space)

    def abandon_rebuild(self) -> bool:
        from chatbot.writes import abandon_rebuild

        return abandon_rebuild(self)

    def counts(self, space: Space | None = None) -> tuple[int, int]:
        """(chunks recorded, vectors stored) of a copy: equal unless a write is under way,
        died, or the vectors were lost."""
        space = space or self.active()
        with self.connection() as db:
            recorded = space.keyword.rows(db)
        collection = self.collection(space)
        return recorded, collection.count() if collection else 0


def _matching(indexed: Sequence[SourceRecord], wanted: str) -> list[str]:
    """Sources a user's word selects: an exact name, else files at or under the path it names,
    or names under it as a prefix."""
    exact = [r.source for r in indexed if r.source == wanted]
    if exact or not wanted:
        return exact
    path = Path(wanted).expanduser().resolve()
    prefix = wanted.rstrip("/") + "/"
    return [
        r.source
        for r in indexed
        if Path(r.path) == path or path in Path(r.path).parents or r.source.startswith(prefix)
    ]


def drop_index(settings: Settings, *, forget: bool = False, timeout: float | None = None) -> None:
    """Empty a collection entirely (every copy, its rows and vectors) without checking its
    embedding model (so `--rebuild` and throwaway collections work whatever built it);
    `forget` drops its name too. `timeout`: the wait for the lock (CHATBOT_LOCK_TIMEOUT)."""
    from chatbot.locking import marker_path, write_lock

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    name = settings.collection
    with write_lock(settings, timeout):
        vectors = Vectors(settings)
        with contextlib.closing(records.connect(settings.data_dir / "index.db")) as db:
            records.create_schema(db)
            with transaction(db, write=True):
                active, building, _ = records.spaces(db, name)
                physicals = {name} | {p for p in (active, building) if p}
                for physical in physicals:
                    records.drop_space(db, physical)
                if forget:
                    db.execute("DELETE FROM collections WHERE name = ?", (name,))
                elif active is not None:
                    db.execute(
                        "UPDATE collections SET active = ?, building = NULL WHERE name = ?",
                        (new_physical(name), name),
                    )
                    records.bump(db, name)
        for physical in physicals:
            vectors.drop(physical)
        marker_path(settings).unlink(missing_ok=True)

