"""One consistent read of the committed index, for one question: chunk lookups, dense search
(Chroma), keyword search (FTS5) and the scores of given chunks on either side.

It reads inside one SQLite read transaction, so every lookup sees the same committed state even
while a writer commits; vectors of chunks not (or no longer) committed are passed over.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from chatbot import records
from chatbot.keyword import KeywordIndex, TermStats
from chatbot.models import Passage
from chatbot.records import ChunkRow
from chatbot.vectors import Collection


class Snapshot:
    """A consistent read of the committed index: chunk lookups, dense and keyword search."""

    def __init__(
        self,
        db: sqlite3.Connection,
        physical: str,
        keyword: KeywordIndex,
        collection: Collection | None,
    ) -> None:
        self.db = db
        self.physical = physical
        self.keyword_index = keyword
        self.collection = collection

    def passages(self, ids: Sequence[str]) -> dict[str, Passage]:
        rows = records.chunk_rows(self.db, self.physical, ids)
        return {key: _passage(row) for key, row in rows.items()}

    def count(self) -> int:
        return self.keyword_index.rows(self.db)

    def dense(
        self, vector: Sequence[float], k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[Passage, float]]:
        """Top-k committed chunks by cosine similarity. Vectors of a write still under way (or
        left by one that died) are not in the records and are passed over."""
        total = self.count()
        if self.collection is None or total == 0 or k <= 0:
            return []
        want = min(k, total)
        ask = want + 8
        while True:
            hits = self.collection.search(vector, ask, sources)
            found = self.passages([key for key, _ in hits])
            out = [(found[key], cosine) for key, cosine in hits if key in found]
            if len(out) >= want or len(hits) < ask:
                return out[:want]
            ask *= 4

    def cosines(self, vector: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        """Exact cosine similarity of some chunks (a keyword-only candidate's dense score).

        Their stored vectors are read (as many as there are candidates, never more): Chroma's
        own `query(ids=...)` would compute the same numbers without moving vectors, but takes
        time that grows with the collection (see docs/benchmarks.md)."""
        query = np.asarray(vector, dtype=np.float64)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        return {key: float(row @ query) for key, row in self.vectors(ids).items()}

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of some chunks, L2-normalised (bounded by the ids asked for)."""
        if self.collection is None:
            return {}
        found = self.collection.vectors(ids)
        for key, row in found.items():
            found[key] = row / max(float(np.linalg.norm(row)), 1e-12)
        return found

    def term_stats(self, tokens: Sequence[str]) -> TermStats:
        return self.keyword_index.stats(self.db, tokens)

    def keyword(
        self, tokens: Sequence[str], k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[Passage, float]]:
        """BM25 top k (raw scores; see chatbot/keyword.py for when it is proven exact), only
        chunks sharing a term with the question."""
        within = records.source_rowids(self.physical, sources) if sources else None
        hits = self.keyword_index.search(self.db, tokens, k, self._terms, within).hits
        rows = records.chunks_by_rowid(self.db, [rowid for rowid, _ in hits])
        return [(_passage(rows[rowid]), score) for rowid, score in hits if rowid in rows]

    def keyword_scores(self, tokens: Sequence[str], ids: Sequence[str]) -> dict[str, float]:
        """Exact BM25 of some committed chunks (0 where they share no term: left out)."""
        rows = records.chunk_rows(self.db, self.physical, ids)
        by_rowid = {row.rowid: key for key, row in rows.items()}
        scores = self.keyword_index.scores(self.db, tokens, list(by_rowid), self._terms)
        return {by_rowid[rowid]: score for rowid, score in scores.items()}

    def _terms(self, rowids: Sequence[int]) -> dict[int, str]:
        return records.chunk_terms(self.db, rowids)


    def chunks(self, sources: Sequence[str]) -> list[Passage]:
        """Every chunk of some sources, in the given source order, then reading order."""
        return [_passage(row) for row in records.chunks_of(self.db, self.physical, sources)]


def _passage(row: ChunkRow) -> Passage:
    return Passage(
        chunk_id=row.id, source=row.source, text=row.text, start=row.start, end=row.end,
        score=0.0, page=row.page, context=row.context, ocr=bool(row.ocr),
    )
