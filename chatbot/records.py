"""The SQLite side of the index (`<data_dir>/index.db`): schema, migration and row helpers.

Tables: `collections` (each logical collection's active physical copy, a rebuild in progress,
and a generation counter), `documents` (one row per indexed file: name, path, the root it was
ingested from, stat, fingerprint and extracted text), `chunks` (offsets and text of every chunk,
keyed by chunk id), and per physical copy an FTS5 keyword index
(chatbot/keyword.py). A write is one transaction over all of them: readers (WAL mode) see
either the old state or the new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from chatbot.keyword import KeywordIndex, terms
from chatbot.models import indexed_text

#: 3: chunks keep the context line they were indexed with, documents their title.
SCHEMA_VERSION = "3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    active TEXT NOT NULL,
    building TEXT,
    generation INTEGER NOT NULL DEFAULT 0
);
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
    root TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (collection, source)
);
CREATE INDEX IF NOT EXISTS documents_path ON documents (collection, path);
CREATE INDEX IF NOT EXISTS documents_fingerprint ON documents (collection, sha256);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    source TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    position INTEGER NOT NULL,
    page INTEGER,
    text TEXT NOT NULL,
    terms TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    embed_context INTEGER NOT NULL DEFAULT 0,
    ocr INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_id ON chunks (collection, id);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks (collection, source);
"""


#: A chunk as `insert_chunks` takes it: (id, source, start, end, position, page, text, context,
#: whether the context was embedded too, whether OCR read it).
ChunkInsert = tuple[str, str, int, int, int, int | None, str, str, bool, bool]


@dataclass(frozen=True)
class KnownDocument:
    """What the records remember about an indexed file."""

    source: str
    path: str
    root: str
    size: int
    mtime_ns: int
    fingerprint: str
    recipe: str
    chunks: int


@dataclass(frozen=True)
class ChunkRow:
    """One stored chunk: `text == document[start:end]`."""

    rowid: int
    id: str
    source: str
    start: int
    end: int
    position: int
    page: int | None
    text: str
    context: str = ""
    embed_context: int = 0
    ocr: bool = False  # read from a scanned page by OCR

    @property
    def indexed_text(self) -> str:
        """What was keyword-indexed for it."""
        return indexed_text(self.context, self.text)

    @property
    def embedded_text(self) -> str:
        """What was embedded for it."""
        return self.indexed_text if self.embed_context else self.text


#: Columns added to existing tables since they were first created (version 3).
_ADDED_COLUMNS = (
    ("documents", "title", "TEXT NOT NULL DEFAULT ''"),
    ("chunks", "context", "TEXT NOT NULL DEFAULT ''"),
    ("chunks", "embed_context", "INTEGER NOT NULL DEFAULT 0"),
    ("chunks", "ocr", "INTEGER NOT NULL DEFAULT 0"),
    ("documents", "tables", "TEXT NOT NULL DEFAULT ''"),  # "start-end,..." (chatbot/tables.py)
    ("documents", "ocr_pages", "TEXT NOT NULL DEFAULT ''"),  # "1,3" (pages read by OCR)
)


def keyword_index(physical: str) -> KeywordIndex:
    """The FTS5 table of one physical copy (a digest: collection names allow `-` and `.`)."""
    return KeywordIndex("kw_" + hashlib.sha256(physical.encode()).hexdigest()[:16])


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode; callers open transactions with `transaction()`."""
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 60000")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, *, write: bool) -> Iterator[sqlite3.Connection]:
    """One transaction: IMMEDIATE for writers (no deadlocks between two writers), DEFERRED for
    readers (a consistent snapshot from the first read on, in WAL mode)."""
    db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT" if write else "ROLLBACK")


def create_schema(db: sqlite3.Connection) -> None:
    """Create the tables, or upgrade those of an older version (whose chunks are then read
    back from Chroma when its collection is opened, see `Index`)."""
    db.execute("PRAGMA journal_mode = WAL")
    with transaction(db, write=True):
        existing = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        old = "documents" in existing and "collections" not in existing
        if old:
            columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
            if "recipe" not in columns:
                db.execute("ALTER TABLE documents ADD COLUMN recipe TEXT NOT NULL DEFAULT ''")
            db.execute("ALTER TABLE documents ADD COLUMN root TEXT NOT NULL DEFAULT ''")
            db.execute("UPDATE documents SET root = path")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        for table, column, kind in _ADDED_COLUMNS:
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in columns:  # an index of version 2: its chunks have no context yet
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))


# --- collections ------------------------------------------------------------------------------
def spaces(db: sqlite3.Connection, name: str) -> tuple[str | None, str | None, int]:
    """(active, building, generation) of a logical collection; active is None if unknown."""
    row = db.execute(
        "SELECT active, building, generation FROM collections WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return None, None, 0
    return str(row[0]), (str(row[1]) if row[1] else None), int(row[2])


def bump(db: sqlite3.Connection, name: str) -> int:
    """Advance the collection's generation (every write does); returns the new one."""
    db.execute("UPDATE collections SET generation = generation + 1 WHERE name = ?", (name,))
    return spaces(db, name)[2]


def drop_space(db: sqlite3.Connection, physical: str) -> None:
    """Every row of one physical copy (its Chroma collection is dropped by the caller)."""
    db.execute("DELETE FROM documents WHERE collection = ?", (physical,))
    db.execute("DELETE FROM chunks WHERE collection = ?", (physical,))
    keyword_index(physical).drop(db)


# --- documents and chunks ---------------------------------------------------------------------
_KNOWN = "SELECT source, path, root, size, mtime_ns, sha256, recipe, chunks FROM documents"


def known(
    db: sqlite3.Connection, physical: str, paths: Sequence[str] | None = None,
    *, under: bool = False,
) -> dict[str, KnownDocument]:
    """Indexed files of a physical copy (all, or those at `paths`, or with `under` also those
    below them), by resolved path."""
    if paths is None:
        rows = db.execute(f"{_KNOWN} WHERE collection = ?", (physical,)).fetchall()
    elif under:  # "dir/" <= path < "dir0" ('0' follows '/'): a range of the path index
        rows = []
        sql = f"{_KNOWN} WHERE collection = ? AND (path = ? OR (path >= ? AND path < ?))"
        for path in dict.fromkeys(paths):
            base = path.rstrip("/")
            rows += db.execute(sql, (physical, path, f"{base}/", f"{base}0")).fetchall()
    else:
        rows = []
        for begin in range(0, len(paths), 500):
            part = list(paths[begin : begin + 500])
            marks = ",".join("?" * len(part))
            sql = f"{_KNOWN} WHERE collection = ? AND path IN ({marks})"
            rows += db.execute(sql, (physical, *part)).fetchall()
    return {str(r[1]): KnownDocument(*r) for r in rows}


def known_path(db: sqlite3.Connection, physical: str, path: str) -> KnownDocument | None:
    row = db.execute(
        f"{_KNOWN} WHERE collection = ? AND path = ?", (physical, path)
    ).fetchone()
    return KnownDocument(*row) if row else None


def twin(db: sqlite3.Connection, physical: str, fingerprint: str) -> KnownDocument | None:
    """An indexed file with exactly this text and chunking (a moved or copied file's old self)."""
    row = db.execute(
        f"{_KNOWN} WHERE collection = ? AND sha256 = ? LIMIT 1", (physical, fingerprint)
    ).fetchone()
    return KnownDocument(*row) if row else None


def source_owner(db: sqlite3.Connection, physical: str, source: str) -> str | None:
    """The path of the file indexed under `source`, if any."""
    row = db.execute(
        "SELECT path FROM documents WHERE collection = ? AND source = ?", (physical, source)
    ).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class StoredDocument:
    """An indexed file as the records keep it: where it was, its stat when read, its text."""

    source: str
    path: str
    size: int
    mtime_ns: int
    text: str
    page_starts: list[int]


def stored_document(db: sqlite3.Connection, physical: str, source: str) -> StoredDocument | None:
    row = db.execute(
        "SELECT source, path, size, mtime_ns, text, page_starts FROM documents "
        "WHERE collection = ? AND source = ?",
        (physical, source),
    ).fetchone()
    if row is None:
        return None
    starts = [int(x) for x in str(row[5]).split(",") if x]
    return StoredDocument(str(row[0]), str(row[1]), int(row[2]), int(row[3]), str(row[4]), starts)


_CHUNK = (
    'SELECT rowid, id, source, start, "end", position, page, text, context, embed_context, ocr '
    "FROM chunks"
)


def chunk_rows(db: sqlite3.Connection, physical: str, ids: Sequence[str]) -> dict[str, ChunkRow]:
    """Stored chunks by id (ids that are not committed are left out)."""
    found: dict[str, ChunkRow] = {}
    for begin in range(0, len(ids), 500):
        part = list(ids[begin : begin + 500])
        marks = ",".join("?" * len(part))
        for row in db.execute(
            f"{_CHUNK} WHERE collection = ? AND id IN ({marks})", (physical, *part)
        ):
            found[str(row[1])] = ChunkRow(*row)
    return found


def chunks_by_rowid(db: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, ChunkRow]:
    found: dict[int, ChunkRow] = {}
    for begin in range(0, len(rowids), 500):
        part = list(rowids[begin : begin + 500])
        marks = ",".join("?" * len(part))
        for row in db.execute(f"{_CHUNK} WHERE rowid IN ({marks})", part):
            found[int(row[0])] = ChunkRow(*row)
    return found


def chunks_of(db: sqlite3.Connection, physical: str, sources: Sequence[str]) -> list[ChunkRow]:
    """Every chunk of some sources, in source order then reading order."""
    out: list[ChunkRow] = []
    for source in sources:
        out += [
            ChunkRow(*row)
            for row in db.execute(
                f"{_CHUNK} WHERE collection = ? AND source = ? ORDER BY start, \"end\"",
                (physical, source),
            )
        ]
    return out


def source_rowids(physical: str, sources: Sequence[str]) -> tuple[str, list[object]]:
    """An SQL condition on `rowid` that keeps the chunks of some sources."""
    marks = ",".join("?" * len(sources))
    condition = (
        f"rowid IN (SELECT rowid FROM chunks WHERE collection = ? AND source IN ({marks}))"
    )
    return condition, [physical, *sources]


def delete_document(db: sqlite3.Connection, physical: str, source: str) -> list[str]:
    """Remove a document's row, chunks and keyword entries; returns its chunk ids."""
    rows = db.execute(
        "SELECT rowid, id, terms FROM chunks WHERE collection = ? AND source = ?",
        (physical, source),
    ).fetchall()
    keyword_index(physical).remove(db, [(int(r[0]), str(r[2])) for r in rows])
    db.execute("DELETE FROM chunks WHERE collection = ? AND source = ?", (physical, source))
    db.execute("DELETE FROM documents WHERE collection = ? AND source = ?", (physical, source))
    return [str(r[1]) for r in rows]


def insert_chunks(
    db: sqlite3.Connection,
    physical: str,
    rows: Sequence[ChunkInsert],
) -> None:
    """Store chunks given as `ChunkInsert`s and index them: the terms of the context line and
    the text, kept beside them (removal and exact scoring need them)."""
    if not rows:
        return
    first = int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM chunks").fetchone()[0]) + 1
    numbered = [
        (first + n, physical, *row, terms(indexed_text(row[7], row[6])))
        for n, row in enumerate(rows)
    ]
    db.executemany(
        "INSERT INTO chunks (rowid, collection, id, source, start, \"end\", position, page, "
        "text, context, embed_context, ocr, terms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        numbered,
    )
    keyword_index(physical).add(db, [(row[0], row[12]) for row in numbered])


def chunk_terms(db: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, str]:
    """The indexed terms of chunks by rowid."""
    found: dict[int, str] = {}
    for begin in range(0, len(rowids), 500):
        part = list(rowids[begin : begin + 500])
        marks = ",".join("?" * len(part))
        found.update(db.execute(f"SELECT rowid, terms FROM chunks WHERE rowid IN ({marks})", part))
    return found


def now() -> float:
    return time.time()
