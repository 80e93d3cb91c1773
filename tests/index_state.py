"""Helpers for tests of the index: its state read through the public API, and embeddings that
remember what they embedded."""

from __future__ import annotations

from typing import Any

from chatbot.fakes import HashingEmbeddings
from chatbot.index import Index


class CountingEmbeddings(HashingEmbeddings):
    """The fake embeddings, remembering every text they were asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return super().embed_documents(texts)


def state(index: Index) -> dict[str, Any]:
    """Recorded chunk ids, vector ids, duplicate spans and (source, chunks) rows."""
    sources = index.sources()
    chunks = index.chunks([s.source for s in sources])
    collection = index.collection(index.active())
    vectors = sorted(collection.all_ids()) if collection else []
    spans = [(c.source, c.start, c.end) for c in chunks]
    return {
        "ids": sorted(c.chunk_id for c in chunks),
        "vectors": vectors,
        "duplicate_ids": len(chunks) - len({c.chunk_id for c in chunks}),
        "duplicate_spans": len(spans) - len(set(spans)),
        "sources": [(s.source, s.chunks) for s in sources],
        "count": index.count(),
    }
