"""How the store commits files (used by `Index.commit`; the caller holds the write lock).

Order is what keeps the stores in step: vectors are upserted first (idempotent ids; a reader
ignores vectors whose chunks are not recorded), then one SQLite transaction replaces the files'
records, chunks and keyword entries and advances the generation, then the vectors no chunk uses
any more are deleted. A process killed anywhere in between leaves only unused vectors, which the
next ingest reuses or drops (chatbot/locking.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot import records
from chatbot.index_values import DocumentWrite, Space, WriteResult, chunk_id, new_physical
from chatbot.records import KnownDocument, transaction

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from chatbot.index import Index


@dataclass
class _Plan:
    write: DocumentWrite
    current: KnownDocument | None
    name: str
    ids: list[str]
    added: list[str]
    stale: list[str]
    slot: int  # its place among the results


def apply_writes(
    index: Index, db: sqlite3.Connection, space: Space, writes: Sequence[DocumentWrite]
) -> list[WriteResult]:
    # One result per write, in the order of `writes` (callers pair them by position).
    results: list[WriteResult | None] = []
    touched: list[tuple[DocumentWrite, KnownDocument]] = []
    plans: list[_Plan] = []
    claimed: dict[str, str] = {}  # names given in this batch -> path
    for write in writes:
        current = records.known_path(db, space.physical, write.path)
        indexed = current.fingerprint if current else None
        if write.replaces is not None and indexed != write.replaces:
            results.append(WriteResult(write.name, "changed", 0, 0, 0))  # another writer won
            continue
        if current and (current.fingerprint, current.recipe) == (write.fingerprint, write.recipe):
            touched.append((write, current))  # same text: only remember the new stat
            results.append(WriteResult(current.source, "unchanged", current.chunks, 0, 0))
            continue
        if write.chunks is None:  # not split (its text was indexed) but the record changed
            results.append(WriteResult(write.name, "changed", 0, 0, 0))  # meanwhile: read again
            continue
        name = current.source if current else _unique_name(db, space.physical, write, claimed)
        claimed[name] = write.path
        ids = [chunk_id(write.path, chunk) for chunk in write.chunks]
        old = _stored(db, space.physical, current)
        plans.append(
            _Plan(write, current, name, ids, [i for i in ids if i not in old],
                  sorted(old - set(ids)), len(results))
        )
        results.append(None)  # filled in once the plan is written
    _upsert_vectors(index, space, plans)
    with transaction(db, write=True):
        for write, current in touched:
            db.execute(
                "UPDATE documents SET size = ?, mtime_ns = ?, recipe = ? "
                "WHERE collection = ? AND source = ?",
                (*write.stat, write.recipe, space.physical, current.source),
            )
        for plan in plans:
            _replace(db, space.physical, plan)
        if plans:
            records.bump(db, index.name)
    collection = index.collection(space)
    if collection is not None:
        collection.delete([key for plan in plans for key in plan.stale])
    for plan in plans:
        status = "updated" if plan.current else "added"
        count = len(plan.ids)
        results[plan.slot] = WriteResult(
            plan.name, status, count, len(plan.added), len(plan.stale)
        )
    return [result for result in results if result is not None]


def _stored(db: sqlite3.Connection, physical: str, current: KnownDocument | None) -> set[str]:
    if current is None:
        return set()
    rows = db.execute(
        "SELECT id FROM chunks WHERE collection = ? AND source = ?", (physical, current.source)
    ).fetchall()
    return {str(r[0]) for r in rows}


def _unique_name(
    db: sqlite3.Connection, physical: str, write: DocumentWrite, claimed: dict[str, str]
) -> str:
    """The wanted name, or, when another file has it, the name with more of the file's own
    parent folders in front (`b/notes.txt`, then `x/b/notes.txt`, ...), at worst its path."""

    def free(name: str) -> bool:
        owner = claimed.get(name) or records.source_owner(db, physical, name)
        return owner in (None, write.path)

    if free(write.name):
        return write.name
    parts = Path(write.path).parts[1:]
    for depth in range(len(Path(write.name).parts) + 1, len(parts) + 1):
        candidate = "/".join(parts[-depth:])
        if free(candidate):
            return candidate
    return write.path


def _upsert_vectors(index: Index, space: Space, plans: Sequence[_Plan]) -> None:
    """Store the vectors of new chunks: those computed while reading, those a killed run left
    behind (kept, retagged if needed), and any still missing (embedded now)."""
    collection = index.collection(space, create=True)
    assert collection is not None
    ids: list[str] = []
    vectors: list[list[float]] = []
    sources: list[str] = []
    unknown: dict[str, tuple[str, str]] = {}  # id -> (source, text)
    for plan in plans:
        texts = {key: chunk.embedded_text for key, chunk in zip(plan.ids, plan.write.chunks or [],
                                                                  strict=True)}
        for key in plan.added:
            if key in plan.write.vectors:
                ids.append(key)
                vectors.append(plan.write.vectors[key])
                sources.append(plan.name)
            else:
                unknown[key] = (plan.name, texts[key])
    existing = collection.existing(list(unknown))
    wrong = [key for key, source in existing.items() if source != unknown[key][0]]
    collection.retag(wrong, [unknown[key][0] for key in wrong])
    missing = [key for key in unknown if key not in existing]
    if missing:
        embedded = index.embeddings.embed_documents([unknown[key][1] for key in missing])
        ids += missing
        vectors += embedded
        sources += [unknown[key][0] for key in missing]
    collection.upsert(ids, vectors, sources)


def _replace(db: sqlite3.Connection, physical: str, plan: _Plan) -> None:
    """The file's rows as they are now: old ones out, new ones in (one transaction)."""
    write = plan.write
    if plan.current is not None:
        records.delete_document(db, physical, plan.current.source)
    chunks = write.chunks or []
    records.insert_chunks(
        db,
        physical,
        [
            (
                key, plan.name, c.start, c.end, c.index, c.page, c.text, c.context,
                c.embed_context, c.ocr,
            )
            for key, c in zip(plan.ids, chunks, strict=True)
        ],
    )
    db.execute(
        "INSERT INTO documents (collection, source, path, size, mtime_ns, sha256, text, chunks, "
        "page_starts, indexed_at, recipe, root, title, tables, ocr_pages) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            physical, plan.name, write.path, *write.stat, write.fingerprint, write.text,
            len(chunks), ",".join(map(str, write.page_starts)), records.now(), write.recipe,
            write.root, write.title, ",".join(f"{a}-{b}" for a, b in write.tables),
            ",".join(map(str, write.ocr_pages)),
        ),
    )


# --- maintenance (the caller holds the write lock) ---------------------------------------------
def restore_vectors(index: Index, space: Space, *, thorough: bool) -> int:
    """Embed again, from the stored chunk text, the recorded chunks that have no vector."""
    recorded, stored = index.counts(space)
    if recorded <= stored and not thorough:
        return 0
    collection = index.collection(space, create=True)
    assert collection is not None
    present = set(collection.all_ids()) if stored else set()
    with index.connection() as db:
        ids = [str(r[0]) for r in db.execute(
            "SELECT id FROM chunks WHERE collection = ?", (space.physical,)
        )]
        missing = [key for key in ids if key not in present]
        if missing:
            log.warning(
                "%d of %d chunk vectors are missing (Chroma's data lost?); embedding them again "
                "from the stored text", len(missing), len(ids),
            )
        step = index.settings.embed_batch_size * 16
        for begin in range(0, len(missing), step):
            rows = records.chunk_rows(db, space.physical, missing[begin : begin + step])
            batch = list(rows.values())
            vectors = index.embeddings.embed_documents([row.embedded_text for row in batch])
            collection.upsert([row.id for row in batch], vectors, [row.source for row in batch])
    return len(missing)


def drop_orphans(index: Index, space: Space) -> int:
    """Delete vectors no recorded chunk uses (left by a write that died)."""
    recorded, stored = index.counts(space)
    collection = index.collection(space)
    if collection is None or stored <= recorded:
        return 0
    with index.connection() as db:
        keep = {
            str(r[0])
            for r in db.execute("SELECT id FROM chunks WHERE collection = ?", (space.physical,))
        }
    orphans = [key for key in collection.all_ids() if key not in keep]
    collection.delete(orphans)
    return len(orphans)


def begin_rebuild(index: Index) -> Space:
    """A new, empty copy beside the active one, recorded as being built."""
    abandon_rebuild(index)
    space = Space(new_physical(index.name))
    with index.connection() as db, transaction(db, write=True):
        space.keyword.create(db)
        db.execute("UPDATE collections SET building = ? WHERE name = ?", (space.physical,
                                                                           index.name))
    return space


def finish_rebuild(index: Index, space: Space) -> None:
    """Make the new copy the active one (one transaction), then drop the old copy."""
    old = index.active()
    with index.connection() as db, transaction(db, write=True):
        db.execute(
            "UPDATE collections SET active = ?, building = NULL WHERE name = ?",
            (space.physical, index.name),
        )
        records.bump(db, index.name)
    _drop_space(index, old)


def abandon_rebuild(index: Index) -> bool:
    """Drop the half-built copy of a rebuild that never finished; True if there was one."""
    with index.connection() as db:
        building = records.spaces(db, index.name)[1]
        if building is None:
            return False
        with transaction(db, write=True):
            db.execute("UPDATE collections SET building = NULL WHERE name = ?", (index.name,))
    _drop_space(index, Space(building))
    return True


def _drop_space(index: Index, space: Space) -> None:
    with index.connection() as db, transaction(db, write=True):
        records.drop_space(db, space.physical)
    index.vectors.drop(space.physical)
