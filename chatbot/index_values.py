"""The values the index API trades in: one copy of a collection (`Space`), a file ready to
commit (`DocumentWrite`), what committing it did (`WriteResult`), and the ids they carry.

Apart from `index` (the store itself), so `writes`, which the store calls to commit, imports
them at the top instead of inside each function.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from chatbot import records
from chatbot.keyword import KeywordIndex
from chatbot.models import Chunk


def chunk_id(path: str, chunk: Chunk) -> str:
    """Stable id from which file the chunk is in and what it says (same input, same id). An
    embedded context line counts: another one means another vector."""
    key = f"{path}\0{chunk.start}\0{chunk.end}\0{chunk.text}"
    if chunk.embed_context and chunk.context:
        key += f"\0{chunk.context}"
    return str(uuid.UUID(hashlib.sha256(key.encode()).hexdigest()[:32]))


@dataclass(frozen=True)
class Space:
    """One physical copy of a collection: a Chroma collection and its rows (a rebuild writes
    a new copy beside the active one)."""

    physical: str

    @property
    def keyword(self) -> KeywordIndex:
        return records.keyword_index(self.physical)


@dataclass
class DocumentWrite:
    """A new or changed file, read and split (and embedded) outside the write lock."""

    path: str
    root: str
    name: str  # wanted name; a file indexed before keeps its own
    stat: tuple[int, int]
    fingerprint: str
    recipe: str
    text: str = ""
    page_starts: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the report (pages left out)
    #: Kept with the text so an upgrade from stored text splits it as the file was split.
    tables: list[tuple[int, int]] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)
    chunks: list[Chunk] | None = None  # None: same text as indexed, only the stat changed
    vectors: dict[str, list[float]] = field(default_factory=dict)  # by chunk id
    title: str = ""  # the document's title (chatbot/headings.py), "" when none was used
    #: Only replace the indexed version with this fingerprint (an upgrade from stored text
    #: must not undo a newer version another writer committed meanwhile).
    replaces: str | None = None


@dataclass(frozen=True)
class WriteResult:
    source: str
    status: str  # added | updated | unchanged
    chunks: int
    written: int
    deleted: int


def new_physical(name: str) -> str:
    """A physical name never used before (a rebuilt or dropped collection gets a new one, so a
    process holding the old handle cannot mistake one for the other)."""
    return f"{name[:40]}-{uuid.uuid4().hex[:8]}"
