"""Dense (Chroma), keyword (BM25) and hybrid retrieval fused on calibrated scores.

The BM25 side is built from Chroma's own chunks and rebuilt whenever the index generation
changes, so keyword and vector search always see the same passages.

Hybrid fusion is a weighted sum of two scores that already mean the same thing for every query:
the dense cosine similarity, and the BM25 score divided by the IDF mass of the question's terms
(roughly "how much of the question, weighted by rarity, this chunk matches"). Unlike rank fusion
(RRF) or per-query min-max scaling, a keyword side that only matched common words yields small
score differences and so cannot push aside a clearly better dense hit, which is what made plain
RRF fall below dense alone on paraphrased questions. Both scores are computed exactly for every
candidate from either side. Weights were chosen on three data sets; see docs/benchmarks.md.

Optionally the k passages are then picked by maximal marginal relevance (`mmr_select`).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from langchain_core.documents import Document

from chatbot.index import Index
from chatbot.models import Passage

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be been but by did do does for from had has have he her his how i if "
        "in into is it its of on or she so than that the their them then there these they this to "
        "was we were what when where which while who whom why will with would you your",
    )
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


#: Hybrid fusion methods, and the weight of each retriever in them.
FUSIONS = ("score", "rrf")
DEFAULT_WEIGHTS = {"dense": 0.65, "bm25": 0.35}


class _Scored(NamedTuple):
    cache: _Bm25Cache
    scores: Any  # numpy array, one raw BM25 score per chunk of `cache.docs`
    mass: float


@dataclass
class _Bm25Cache:
    generation: int
    docs: list[Document]
    bm25: Any
    position: dict[str, int]  # chunk id -> row in `docs`


class Retriever:
    """Ranks passages for a question; results carry fused and per-retriever scores."""

    def __init__(
        self,
        index: Index,
        fusion: str = "score",
        weights: dict[str, float] | None = None,
        rrf_k: int = 60,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; valid: {', '.join(FUSIONS)}")
        self.index = index
        #: "score" (calibrated score sum, the default) or "rrf" (for comparison in benchmarks).
        self.fusion = fusion
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.rrf_k = rrf_k
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
                position = {str(d.id): i for i, d in enumerate(docs)}
                self._cache = _Bm25Cache(generation, docs, BM25Okapi(corpus), position)
            return self._cache

    def term_weights(self, question: str) -> dict[str, float]:
        """IDF of each question term over the indexed chunks (to rank a passage's sentences
        by the rarity of the question words they share)."""
        bm25 = self._bm25().bm25
        return {t: idf(bm25, t) for t in bm25_tokens(question)}

    def dense(
        self,
        question: str,
        k: int,
        sources: list[str] | None = None,
        vector: list[float] | None = None,
    ) -> list[tuple[Document, float]]:
        """Top-k chunks by cosine similarity (higher is better)."""
        total = self.index.count()
        if total == 0:
            return []
        if vector is None:
            vector = self.index.embeddings.embed_query(question)
        hits = self.index.store.similarity_search_by_vector_with_relevance_scores(
            vector, k=min(k, total), filter=_source_filter(sources)
        )
        # Chroma returns cosine distance; report cosine similarity.
        return [(doc, 1.0 - float(distance)) for doc, distance in hits]

    def bm25(
        self, question: str, k: int, sources: list[str] | None = None
    ) -> list[tuple[Document, float]]:
        """Top-k chunks by raw BM25 score (only chunks sharing a term with the question)."""
        return [(doc, raw) for doc, raw, _ in self._bm25_hits(question, k, sources)]

    def _bm25_hits(
        self,
        question: str,
        k: int,
        sources: list[str] | None,
        scored: _Scored | None = None,
    ) -> list[tuple[Document, float, float]]:
        """(chunk, raw score, calibrated score) for the top-k BM25 chunks."""
        cache, scores, mass = scored or self._bm25_scores(question)
        if not cache.docs:
            return []
        ranked = sorted(range(len(cache.docs)), key=lambda i: -scores[i])
        out = []
        for i in ranked:
            if scores[i] <= 0:
                break
            doc = cache.docs[i]
            if sources and doc.metadata.get("source") not in sources:
                continue
            out.append((doc, float(scores[i]), float(scores[i]) / mass))
            if len(out) >= k:
                break
        return out

    def _bm25_scores(self, question: str) -> _Scored:
        """Raw BM25 scores of every chunk (rank_bm25 scores the whole corpus anyway) and the
        question's IDF mass, the calibration divisor, with the keyword index they came from
        (an ingestion in another thread may swap in a new one meanwhile)."""
        cache = self._bm25()
        tokens = bm25_tokens(question)
        return _Scored(cache, cache.bm25.get_scores(tokens), idf_mass(cache.bm25, tokens))

    @staticmethod
    def _keyword_scores(ids: Sequence[str], scored: _Scored) -> dict[str, tuple[float, float]]:
        """(raw, calibrated) BM25 score of the given chunks, where they share a term."""
        cache, scores, mass = scored
        found = ((key, float(scores[cache.position[key]])) for key in ids if key in cache.position)
        return {key: (raw, raw / mass) for key, raw in found if raw > 0}

    def _vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored chunk vectors, L2-normalised (Chroma keeps them; nothing is re-embedded)."""
        if not ids:
            return {}
        got = self.index.store._collection.get(ids=list(ids), include=["embeddings"])
        if got["embeddings"] is None or len(got["embeddings"]) == 0:
            return {}
        matrix = np.asarray(got["embeddings"], dtype=np.float64)
        matrix /= np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
        return {str(i): row for i, row in zip(got["ids"], matrix, strict=True)}

    def _cosines(self, ids: Sequence[str], vector: list[float]) -> dict[str, float]:
        """Exact cosine similarity of stored chunks to the question vector."""
        query = np.asarray(vector, dtype=np.float64)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        return {key: float(row @ query) for key, row in self._vectors(ids).items()}

    # --- fused -----------------------------------------------------------------------------
    def retrieve(
        self,
        question: str,
        k: int,
        mode: str = "hybrid",
        sources: list[str] | None = None,
        fetch_k: int | None = None,
        mmr_lambda: float | None = None,
    ) -> list[Passage]:
        """The k best chunks; `fetch_k` (default 4k) candidates are taken from each side.

        With `mmr_lambda` the k are picked from those candidates by maximal marginal relevance
        (1 = relevance only, 0 = diversity only), so near-duplicate chunks (a document saved
        twice under different names, boilerplate repeated across pages) don't fill every slot.
        """
        fetch = max(fetch_k or 4 * k, k)
        want = k if mmr_lambda is None else fetch
        ranked: list[tuple[Document, float, dict[str, float]]]
        if mode == "dense":
            ranked = [(d, s, {"dense": s}) for d, s in self.dense(question, want, sources)]
        elif mode == "bm25":
            ranked = [
                (d, raw, {"bm25": raw, "bm25_norm": norm})
                for d, raw, norm in self._bm25_hits(question, want, sources)
            ]
        elif mode == "hybrid":
            ranked = self._hybrid(question, fetch, sources)
        else:
            raise ValueError(f"unknown retrieval mode {mode!r}")
        if mmr_lambda is not None:
            ranked = self._mmr(ranked, k, mmr_lambda)
        return [_passage(doc, score, scores) for doc, score, scores in ranked[:k]]

    def _hybrid(
        self, question: str, fetch: int, sources: list[str] | None
    ) -> list[tuple[Document, float, dict[str, float]]]:
        vector = self.index.embeddings.embed_query(question)
        dense_hits = self.dense(question, fetch, sources, vector)
        scored = self._bm25_scores(question)
        keyword_hits = self._bm25_hits(question, fetch, sources, scored)
        docs: dict[str, Document] = {}
        per: dict[str, dict[str, float]] = {}
        for doc, cosine in dense_hits:
            docs[str(doc.id)] = doc
            per[str(doc.id)] = {"dense": cosine}
        for doc, raw, norm in keyword_hits:
            docs.setdefault(str(doc.id), doc)
            per.setdefault(str(doc.id), {}).update(bm25=raw, bm25_norm=norm)
        # Every candidate is scored exactly on both sides: one found only by BM25 gets its real
        # cosine (so the relevance threshold sees a real dense score), one found only by dense
        # search gets its real BM25 score (it may match the question's words, just not enough
        # of them to make the keyword top list).
        missing = [key for key, scores in per.items() if "dense" not in scores]
        for key, cosine in self._cosines(missing, vector).items():
            per[key]["dense"] = cosine
        unscored = [key for key, scores in per.items() if "bm25" not in scores]
        for key, (raw, norm) in self._keyword_scores(unscored, scored).items():
            per[key].update(bm25=raw, bm25_norm=norm)
        if self.fusion == "rrf":
            fused = rrf_fuse(
                {"dense": [str(d.id) for d, _ in dense_hits],
                 "bm25": [str(d.id) for d, _, _ in keyword_hits]},
                self.weights,
                self.rrf_k,
            )
        else:
            fused = score_fuse(per, self.weights)
        order = sorted(fused, key=lambda key: -fused[key])
        return [(docs[key], fused[key], per[key]) for key in order]

    def _mmr(
        self, ranked: list[tuple[Document, float, dict[str, float]]], k: int, lam: float
    ) -> list[tuple[Document, float, dict[str, float]]]:
        if len(ranked) <= 1:
            return ranked
        keys = [str(doc.id) for doc, _, _ in ranked]
        vectors = self._vectors(keys)
        picked = mmr_select(
            [score for _, score, _ in ranked],
            np.stack([vectors[key] for key in keys]) if len(vectors) == len(keys) else None,
            k,
            lam,
        )
        return [ranked[i] for i in picked]


def mmr_select(
    relevance: Sequence[float], vectors: np.ndarray | None, k: int, lam: float
) -> list[int]:
    """Greedy maximal marginal relevance over candidates in rank order.

    Relevance is min-max scaled over the candidates so that one trade-off `lam` means the same
    for cosine, BM25 and fused scores; redundancy is the highest cosine similarity to a chunk
    already picked. Without vectors the rank order is kept.
    """
    n = len(relevance)
    if vectors is None or n <= 1:
        return list(range(min(k, n)))
    rel = np.asarray(relevance, dtype=np.float64)
    spread = float(rel.max() - rel.min())
    rel = (rel - rel.min()) / spread if spread > 0 else np.ones(n)
    similarity = vectors @ vectors.T
    picked = [0]
    redundancy = similarity[0].copy()
    while len(picked) < min(k, n):
        gain = lam * rel - (1 - lam) * redundancy
        gain[picked] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        redundancy = np.maximum(redundancy, similarity[best])
    return picked


def idf(bm25: Any, token: str) -> float:
    """IDF of a term in the indexed chunks; an unseen term counts as the rarest possible."""
    n = max(int(bm25.corpus_size), 1)
    return max(float(bm25.idf.get(token, math.log((n + 0.5) / 0.5))), 0.0)


def idf_mass(bm25: Any, tokens: Sequence[str]) -> float:
    """Sum of the IDF of the question's terms: about the BM25 score of a chunk of average
    length containing each term once."""
    return sum(idf(bm25, t) for t in tokens) or 1.0


def score_fuse(
    scores: dict[str, dict[str, float]], weights: dict[str, float]
) -> dict[str, float]:
    """Weighted sum of cosine similarity and IDF-normalised BM25 (0 where BM25 matched
    nothing)."""
    return {
        key: weights["dense"] * s.get("dense", 0.0) + weights["bm25"] * s.get("bm25_norm", 0.0)
        for key, s in scores.items()
    }


def rrf_fuse(
    rankings: dict[str, list[str]], weights: dict[str, float], rrf_k: int = 60
) -> dict[str, float]:
    """Weighted reciprocal-rank fusion of ranked id lists."""
    fused: dict[str, float] = {}
    for name, ids in rankings.items():
        for rank, key in enumerate(ids):
            fused[key] = fused.get(key, 0.0) + weights[name] / (rrf_k + rank + 1)
    return fused


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
