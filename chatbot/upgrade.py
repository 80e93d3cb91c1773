"""Bring documents indexed by an older version (or with `CHATBOT_HEADINGS_IN_INDEX` the other
way) up to the current index format, from the text index.db stores.

Since version 3 of the records a chunk is embedded and keyword-indexed with its context line
(chatbot/headings.py). Documents indexed before carry none; every ingest, re-index and upload
first re-splits them from their stored text (never from their files, which may be gone or
changed: the upgrade changes no document's text, only what is indexed for it), embeds the chunk
texts that changed, and commits each batch as one ordinary write: new chunk rows, keyword
entries and vectors in, the old ones out, so no chunk is lost or indexed twice. A document
another writer replaced meanwhile is left to that writer's version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.loaders import LoadedDocument, is_markdown
from chatbot.locking import guarded_write

if TYPE_CHECKING:
    from chatbot.index import DocumentWrite, Index, Space

log = logging.getLogger(__name__)

#: Called as progress("upgrade", done, total): documents upgraded of those outdated.
ProgressFn = Callable[[str, int, int], None]
#: Documents re-split, embedded and committed per batch (one short hold of the write lock).
BATCH = 32


def outdated(index: Index, space: Space) -> list[str]:
    """Sources of the copy whose chunks were indexed with the other context setting (an index
    of version 2 counts as indexed without context lines)."""
    from chatbot.ingest import HEADINGS_MARK

    mark = HEADINGS_MARK[index.settings.headings_in_index]
    with index.connection() as db:
        rows = db.execute(
            "SELECT source, recipe FROM documents WHERE collection = ? ORDER BY source",
            (space.physical,),
        ).fetchall()
    return [str(source) for source, recipe in rows if _mark(str(recipe)) != mark]


def _mark(recipe: str) -> str:
    """Where a document's recipe says its titles and headings went ("" for none)."""
    return next((m for m in ("/h", "/k") if recipe.endswith(m)), "")


def upgrade(index: Index, space: Space, progress: ProgressFn) -> int:
    """Upgrade every outdated document of `space`; returns how many were upgraded."""
    sources = outdated(index, space)
    if not sources:
        return 0
    log.warning(
        "upgrading %d document(s) to the current index (CHATBOT_HEADINGS_IN_INDEX=%s), from "
        "their stored text", len(sources), index.settings.headings_in_index,
    )
    done = 0
    progress("upgrade", 0, len(sources))
    for begin in range(0, len(sources), BATCH):
        part = sources[begin : begin + BATCH]
        done += _upgrade_batch(index, space, list(_writes(index, space, part)))
        progress("upgrade", begin + len(part), len(sources))
    return done


def _writes(index: Index, space: Space, sources: list[str]) -> Iterator[DocumentWrite]:
    """Each stored document re-split with the current settings, as a write that replaces
    exactly the version it was made from."""
    from chatbot.index import DocumentWrite
    from chatbot.ingest import fingerprint, recipe, split

    current = recipe(index)
    marks = ",".join("?" * len(sources))
    with index.connection() as db:
        rows = db.execute(
            "SELECT source, path, root, size, mtime_ns, sha256, text, page_starts, title, tables, "
            f"ocr_pages, recipe FROM documents WHERE collection = ? AND source IN ({marks})",
            (space.physical, *sources),
        ).fetchall()
    for (source, path, root, size, mtime_ns, sha256, text, page_starts, title, tables, ocr_pages,
         old_recipe) in rows:
        starts = _numbers(page_starts)
        document = LoadedDocument(
            str(text), is_markdown(Path(path)), starts, ocr_pages=_numbers(ocr_pages),
            tables=[(int(a), int(b)) for a, _, b in (t.partition("-") for t in _items(tables))],
            title=str(title) or None,
        )
        made_by = _with_mark(str(old_recipe), current)
        write = DocumentWrite(
            str(path), str(root), str(source), (int(size), int(mtime_ns)),
            fingerprint(index, document, made_by), made_by, document.text,
            starts, tables=list(document.tables), ocr_pages=list(document.ocr_pages),
            replaces=str(sha256),
        )
        write.chunks, write.title = split(index, write.path, write.name, document)
        if write.chunks:
            yield write


def _upgrade_batch(index: Index, space: Space, writes: list[DocumentWrite]) -> int:
    from chatbot.embed import Embedder

    if not writes:
        return 0
    Embedder(index, space, lambda stage, done, total: None)(writes)
    with guarded_write(index):
        results = index.commit(space, writes)
    return sum(result.status in ("updated", "unchanged") for result in results)


def _items(value: object) -> list[str]:
    return [item for item in str(value or "").split(",") if item]


def _numbers(value: object) -> list[int]:
    return [int(item) for item in _items(value)]


def _with_mark(old: str, current: str) -> str:
    """The document's own recipe with the current headings mark: a document split by an older
    splitter (or other chunk settings) keeps its old recipe, so the next ingest of its file
    still reads and splits it again (stored text is what the old loader extracted)."""
    return old[: len(old) - len(_mark(old))] + _mark(current)
