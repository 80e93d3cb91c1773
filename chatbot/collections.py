"""Collections: separate piles of documents in one data dir, each with its own index.

A collection is a name in the `collections` table of `index.db` (chatbot/records.py): its
documents, chunks and keyword index are the rows of its active physical copy, its vectors a
Chroma collection of that copy, and the embedding model that built it is recorded in that
Chroma collection's metadata, so each collection keeps its own (opening one with another
model is refused with the way to rebuild, while the others keep working). An index written
before collections existed is the collection `chatbot` (CHATBOT_COLLECTION's default): its
storage is keyed the same way, so nothing is embedded again.

Uploads of the default collection stay in `<data_dir>/uploads/` (where they always were);
those of any other collection go to `<data_dir>/collections/<name>/uploads/`, so two
collections never overwrite each other's uploaded files.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from langchain_core.embeddings import Embeddings

from chatbot import records
from chatbot.config import DEFAULT_COLLECTION, Settings, collection_name_problem
from chatbot.errors import InvalidRequestError, NotFoundError
from chatbot.models import CollectionInfo
from chatbot.vectors import Vectors

#: Names of throwaway collections (`chatbot.evaluate.throwaway_pipeline`, the injection
#: benchmark): never listed.
THROWAWAY = re.compile(r"(eval|bench|injection)-[0-9a-f]{12}")


class InvalidCollectionNameError(InvalidRequestError):
    """A collection name that breaks Chroma's naming rules."""


class UnknownCollectionError(NotFoundError):
    """A collection name that matches no collection of the data dir."""


class CollectionExistsError(InvalidRequestError):
    """`create` of a name that is already a collection."""


def check_name(name: str) -> str:
    """`name` if it can name a collection, else `InvalidCollectionNameError`."""
    problem = collection_name_problem(name)
    if problem:
        raise InvalidCollectionNameError(problem)
    return name


def uploads_dir(settings: Settings) -> Path:
    """Where the uploads of `settings.collection` are saved (see the module docstring)."""
    if settings.collection == DEFAULT_COLLECTION:
        return settings.data_dir / "uploads"
    return settings.data_dir / "collections" / settings.collection / "uploads"


@contextlib.contextmanager
def _records(settings: Settings) -> Iterator[sqlite3.Connection | None]:
    """A read connection to index.db, or None when there is none yet (nothing is created)."""
    path = settings.data_dir / "index.db"
    if not path.is_file():
        yield None
        return
    with contextlib.closing(records.connect(path)) as db:
        yield db


def _rows(db: sqlite3.Connection | None) -> dict[str, str]:
    """Every collection's active physical copy, by name ({} for an index.db without the
    table: one written before collections existed). The throwaway collections of `chatbot
    eval` and `chatbot bench` are left out (older versions also left their names behind)."""
    if db is None:
        return {}
    try:
        found = db.execute("SELECT name, active FROM collections ORDER BY name").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {str(name): str(active) for name, active in found if not THROWAWAY.fullmatch(name)}


def names(settings: Settings) -> list[str]:
    """The collections of the data dir, sorted (read-only: no file is created)."""
    with _records(settings) as db:
        return sorted(_rows(db))


def is_legacy(settings: Settings, name: str, vectors: Vectors | None = None) -> bool:
    """`name` has vectors but no record yet: an index written before `index.db` tracked
    collections, which opening it (`Index`) takes over without embedding anything again."""
    if name in names(settings):
        return False
    return name in (vectors or Vectors(settings)).names()


def exists(settings: Settings, name: str) -> bool:
    return name in names(settings) or is_legacy(settings, name)


def require(settings: Settings, name: str) -> str:
    """`name` if it is a collection of the data dir, else a not-found error listing them."""
    check_name(name)
    if exists(settings, name):
        return name
    known = ", ".join(names(settings)) or "none"
    raise UnknownCollectionError(
        f"no collection {name!r}; collections: {known} (see `chatbot collections`; "
        f"`chatbot collections create {name}` or `chatbot ingest --collection {name} PATH` "
        "makes it)"
    )


def _describe(db: sqlite3.Connection, vectors: Vectors, name: str, physical: str) -> CollectionInfo:
    sources, chunks = db.execute(
        "SELECT count(*), COALESCE(sum(chunks), 0) FROM documents WHERE collection = ?",
        (physical,),
    ).fetchone()
    stored = vectors.collection(physical)
    return CollectionInfo(name, int(sources), int(chunks), stored.model if stored else "")


def list_collections(settings: Settings) -> list[CollectionInfo]:
    """Every collection with its sources, chunks and the embedding model that built it."""
    vectors = Vectors(settings)
    with _records(settings) as db:
        rows = _rows(db)
        if db is None or not rows:
            return []
        return [_describe(db, vectors, name, physical) for name, physical in rows.items()]


def describe(settings: Settings, name: str) -> CollectionInfo:
    """One collection as `list_collections` shows it."""
    require(settings, name)
    found = {info.name: info for info in list_collections(settings)}
    return found.get(name) or CollectionInfo(name, 0, 0, "")


def create(settings: Settings, embeddings: Embeddings) -> CollectionInfo:
    """Make the empty collection `settings.collection`, recording the configured embedding
    model now (so it is fixed before the first document)."""
    from chatbot.index import Index
    from chatbot.locking import write_lock

    name = check_name(settings.collection)
    if exists(settings, name):
        raise CollectionExistsError(f"collection {name!r} already exists")
    index = Index(settings, embeddings)
    with write_lock(settings):
        index.collection(index.active(), create=True)
    return describe(settings, name)


def delete(settings: Settings) -> CollectionInfo:
    """Delete the collection `settings.collection`: its records, keyword index, vectors and
    uploaded files. Refused at once (`IndexBusyError`) while another process writes."""
    from chatbot.index import drop_index
    from chatbot.locking import write_lock

    name = require(settings, settings.collection)
    uploads = uploads_dir(settings).resolve()
    with write_lock(settings, timeout=0.0), _records(settings) as db:
        info = describe(settings, name)
        physical = _rows(db).get(name, name)
        found = [] if db is None else db.execute(
            "SELECT path FROM documents WHERE collection = ?", (physical,)
        ).fetchall()
        drop_index(settings, forget=True)
    for (path,) in found:  # only the copies this collection's uploads saved
        if Path(str(path)).parent == uploads:
            Path(str(path)).unlink(missing_ok=True)
    if settings.collection != DEFAULT_COLLECTION:
        shutil.rmtree(uploads.parent, ignore_errors=True)
    return info
