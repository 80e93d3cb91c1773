"""Dense (Chroma), keyword (BM25) and hybrid retrieval with weighted reciprocal-rank fusion.

The BM25 side is built from Chroma's own chunks and rebuilt whenever the index generation
changes, so keyword and vector search always see the same passages.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document

from chatbot.index import Index
from chatbot.models import Passage

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i if in "
    "into is it its of on or she so than that the their them then there these they this to was "
    "we were what when where which while who whom why will with would you your".split()
)


def bm25_tokens(text: str) -> list[str]:
    """Lowercase, strip punctuation, drop stop words, light plural/suffix folding."""
    out = []
    for token in _TOKEN.findall(text.lower()):
        if token in _STOP:
            continue
        if len(token) > 4 and token.endswith("ies"):
            token = token[:-3] + "y"
        elif len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        out.append(token)
    return out


@dataclass
class _Bm25Cache:
    generation: int
    docs: list[Document]
    bm25: Any


class Retriever:
    """Ranks passages for a question; results carry fused and per-retriever scores."""

    #: Weight of each retriever in the fusion and the RRF rank constant.
    weights = {"dense": 1.0, "bm25": 1.0}
    rrf_k = 60

    def __init__(self, index: Index) -> None:
        self.index = index
        self._lock = threading.Lock()
        self._cache: _Bm25Cache | None = None

    # --- individual retrievers -------------------------------------------------------------
    def _bm25(self) -> _Bm25Cache:
        from rank_bm25 import BM25Okapi

        generation = self.index.generation()
        with self._lock:
            if self._cache is None or self._cache.generation != generation:
                docs = self.index.all_chunks()
                corpus = [bm25_tokens(d.page_content) for d in docs] or [[""]]
                self._cache = _Bm25Cache(generation, docs, BM25Okapi(corpus))
            return self._cache

    def dense(
        self, question: str, k: int, sources: list[str] | None = None
    ) -> list[tuple[Document, float]]:
        if self.index.count() == 0:
            return []
        where = _source_filter(sources)
        hits = self.index.store.similarity_search_with_score(
            question, k=min(k, self.index.count()), filter=where
        )
        # Chroma returns cosine distance; report cosine similarity (higher is better).
        return [(doc, 1.0 - float(distance)) for doc, distance in hits]

    def bm25(
        self, question: str, k: int, sources: list[str] | None = None
    ) -> list[tuple[Document, float]]:
        cache = self._bm25()
        if not cache.docs:
            return []
        scores = cache.bm25.get_scores(bm25_tokens(question))
        ranked = sorted(range(len(cache.docs)), key=lambda i: -scores[i])
        out = []
        for i in ranked:
            if scores[i] <= 0:
                break
            doc = cache.docs[i]
            if sources and doc.metadata.get("source") not in sources:
                continue
            out.append((doc, float(scores[i])))
            if len(out) >= k:
                break
        return out

    # --- fused -----------------------------------------------------------------------------
    def retrieve(
        self,
        question: str,
        k: int,
        mode: str = "hybrid",
        sources: list[str] | None = None,
        fetch_k: int | None = None,
    ) -> list[Passage]:
        fetch = max(fetch_k or 4 * k, k)
        runs: dict[str, list[tuple[Document, float]]] = {}
        if mode in ("dense", "hybrid"):
            runs["dense"] = self.dense(question, fetch, sources)
        if mode in ("bm25", "hybrid"):
            runs["bm25"] = self.bm25(question, fetch, sources)
        fused: dict[str, float] = {}
        per: dict[str, dict[str, float]] = {}
        docs: dict[str, Document] = {}
        for name, hits in runs.items():
            for rank, (doc, score) in enumerate(hits):
                key = str(doc.id)
                docs[key] = doc
                per.setdefault(key, {})[name] = score
                fused[key] = fused.get(key, 0.0) + self.weights[name] / (self.rrf_k + rank + 1)
        order = sorted(fused, key=lambda key: -fused[key])[:k]
        return [_passage(docs[key], fused[key], per[key]) for key in order]


def _source_filter(sources: list[str] | None) -> dict[str, Any] | None:
    if not sources:
        return None
    if len(sources) == 1:
        return {"source": sources[0]}
    return {"source": {"$in": list(sources)}}


def _passage(doc: Document, score: float, scores: dict[str, float]) -> Passage:
    meta = doc.metadata
    page = meta.get("page")
    return Passage(
        chunk_id=str(doc.id),
        source=str(meta["source"]),
        text=doc.page_content,
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=score,
        page=int(page) if page is not None else None,
        scores=scores,
    )
