"""Data classes for what flows between pipeline stages: ingestion reports, indexed sources,
chunks, passages, citations, answers, summaries."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A span of one document's extracted text: `text == document[start:end]`."""

    source: str
    text: str
    start: int
    end: int
    index: int
    page: int | None = None
    #: "Title > Section > Subsection" (chatbot/headings.py): keyword-indexed in front of the
    #: text, never part of it (citations quote `text` alone).
    context: str = ""
    #: Whether the context line is embedded with the text too (CHATBOT_HEADINGS_IN_INDEX=on).
    embed_context: bool = False
    #: The page had no text layer: this text was read by OCR (chatbot/ocr.py).
    ocr: bool = False

    @property
    def indexed_text(self) -> str:
        """What is keyword-indexed for this chunk."""
        return indexed_text(self.context, self.text)

    @property
    def embedded_text(self) -> str:
        """What is embedded for this chunk."""
        return indexed_text(self.context, self.text) if self.embed_context else self.text

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "chunk_index": self.index,
        }
        if self.page is not None:
            meta["page"] = self.page
        if self.ocr:
            meta["ocr"] = True
        return meta


def indexed_text(context: str, text: str) -> str:
    """A chunk's context line, if any, then its text."""
    return f"{context}\n{text}" if context else text


@dataclass
class Passage:
    """A retrieved chunk with the scores that ranked it."""

    chunk_id: str
    source: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    #: The chunk's context line (see `Chunk.context`); not part of `text`.
    context: str = ""
    ocr: bool = False  # the text was read from a scanned page by OCR


@dataclass
class Citation:
    """One numbered source under an answer; `text` is exactly `document[start:end]`."""

    n: int
    source: str
    chunk_id: str
    text: str
    start: int
    end: int
    page: int | None = None
    #: Offsets (into the document) of the sentence inside the passage that supports the claim.
    support_start: int | None = None
    support_end: int | None = None
    #: The page had no text layer: the passage was read by OCR and may contain its misreadings.
    ocr: bool = False


@dataclass
class Sentence:
    """One answer sentence with the citations that back it."""

    text: str
    citations: list[int]
    supported: bool


@dataclass
class Answer:
    """Everything `ask` produces; `to_json()` is the CLI's `--json` shape."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    model: str
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0}
    )
    timings: dict[str, float | None] = field(
        default_factory=lambda: {"retrieve_s": 0.0, "first_token_s": None, "total_s": 0.0}
    )
    sentences: list[Sentence] = field(default_factory=list)
    standalone_question: str | None = None
    notes: list[str] = field(default_factory=list)
    cost_usd: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return data


@dataclass
class Turn:
    """One exchange of a conversation: what follow-up questions are condensed with."""

    question: str
    answer: str


@dataclass
class Bullet:
    """One summary point and the chunk numbers (`Summary.citations[].n`) that back it."""

    text: str
    citations: list[int]
    supported: bool = True


@dataclass
class Summary:
    """Everything `summarize` produces; `to_json()` is the CLI's `--json` shape.

    Citation numbers count the chunks read (1 = first chunk of the first source), so every
    marker resolves to one passage of the summarized sources.
    """

    sources: list[str]
    bullets: list[Bullet]
    citations: list[Citation]
    chunks_read: int
    model: str
    map_batches: int = 0
    #: Bullets removed because no valid citation supported them (reported, never shown as fact).
    dropped_bullets: list[Bullet] = field(default_factory=list)
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0}
    )
    timings: dict[str, float] = field(
        default_factory=lambda: {
            "read_s": 0.0, "model_s": 0.0, "map_s": 0.0, "reduce_s": 0.0, "total_s": 0.0
        }
    )
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceRecord:
    """One indexed document as `Index.sources()` lists it."""

    source: str  # its name (see chatbot/ingest.py for how names are given)
    path: str  # the resolved file it was read from (its identity)
    root: str  # the folder (or the file itself) it was ingested from
    chunks: int
    characters: int
    indexed_at: float  # epoch seconds

    def to_json(self) -> dict[str, Any]:
        """What `chatbot sources --json` prints for it."""
        return {
            "source": self.source,
            "chunks": self.chunks,
            "characters": self.characters,
            "indexed_at": self.indexed_time(),
        }

    def indexed_time(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.indexed_at))


@dataclass(frozen=True)
class CollectionInfo:
    """One collection as `chatbot collections` lists it (names and models are untrusted text
    when displayed: a collection may come from an older tool or a shared Chroma server)."""

    name: str
    sources: int
    chunks: int
    embedding_model: str  # "" until its first vectors are written (or `create` records it)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FileReport:
    """What ingestion did with one file (and why, when it was skipped)."""

    source: str
    status: str  # added | updated | unchanged | removed | skipped
    chunks: int = 0
    reason: str = ""
    #: What was left out of an ingested file (e.g. a scanned page OCR could not read).
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """One ingestion run, shown by the CLI and the app's Documents page."""

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
