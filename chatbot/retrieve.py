"""Dense (Chroma), keyword (BM25) and hybrid retrieval fused on calibrated scores.

Every question is answered from one snapshot of the committed index (`Index.snapshot`): the
keyword side is the persistent FTS5 index in index.db (chatbot/keyword.py), updated in the
same transaction as the records, so keyword and vector search always see the same passages,
also right after another process wrote.

Hybrid fusion is a weighted sum of two scores that already mean the same thing for every query:
the dense cosine similarity, and the BM25 score divided by the IDF mass of the question's terms
(roughly "how much of the question, weighted by rarity, this chunk matches"). Unlike rank fusion
(RRF) or per-query min-max scaling, a keyword side that only matched common words yields small
score differences and so cannot push aside a clearly better dense hit, which is what made plain
RRF fall below dense alone on paraphrased questions. Both scores are computed exactly for every
candidate from either side: Chroma computes the cosine of a keyword-only candidate (no vector
is fetched), and the keyword index the BM25 of a dense-only one; the IDF mass comes from the
index's own term statistics. Weights were chosen on three data sets; see docs/benchmarks.md.

Optionally the k passages are then picked by maximal marginal relevance (`mmr_select`), which
reads the vectors of the candidates only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from chatbot.index import Index
from chatbot.keyword import bm25_tokens
from chatbot.models import Passage
from chatbot.snapshot import Snapshot

__all__ = ["DEFAULT_WEIGHTS", "FUSIONS", "Retriever", "bm25_tokens", "mmr_select",
           "rrf_fuse", "score_fuse"]

#: Hybrid fusion methods, and the weight of each retriever in them.
FUSIONS = ("score", "rrf")
DEFAULT_WEIGHTS = {"dense": 0.65, "bm25": 0.35}

#: (passage, fused or single score, per-retriever scores)
Ranked = list[tuple[Passage, float, dict[str, float]]]


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

    # --- individual retrievers -------------------------------------------------------------
    def term_weights(self, question: str) -> dict[str, float]:
        """IDF of each question term over the indexed chunks (to rank a passage's sentences
        by the rarity of the question words they share)."""
        tokens = bm25_tokens(question)
        with self.index.snapshot() as snap:
            stats = snap.term_stats(tokens)
        return {t: stats.idf(t) for t in tokens}

    def dense(
        self, question: str, k: int, sources: list[str] | None = None
    ) -> list[tuple[Passage, float]]:
        """Top-k chunks by cosine similarity (higher is better)."""
        vector = self.index.embeddings.embed_query(question)
        with self.index.snapshot() as snap:
            return snap.dense(vector, k, sources)

    def bm25(
        self, question: str, k: int, sources: list[str] | None = None
    ) -> list[tuple[Passage, float]]:
        """Top-k chunks by raw BM25 score (only chunks sharing a term with the question)."""
        with self.index.snapshot() as snap:
            return snap.keyword(bm25_tokens(question), k, sources)

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
        if mode not in ("dense", "bm25", "hybrid"):
            raise ValueError(f"unknown retrieval mode {mode!r}")
        fetch = max(fetch_k or 4 * k, k)
        want = k if mmr_lambda is None else fetch
        vector = self.index.embeddings.embed_query(question) if mode != "bm25" else []
        tokens = bm25_tokens(question)
        with self.index.snapshot() as snap:
            ranked: Ranked
            if mode == "dense":
                ranked = [(p, s, {"dense": s}) for p, s in snap.dense(vector, want, sources)]
            elif mode == "bm25":
                mass = snap.term_stats(tokens).mass(tokens)
                ranked = [
                    (p, raw, {"bm25": raw, "bm25_norm": raw / mass})
                    for p, raw in snap.keyword(tokens, want, sources)
                ]
            else:
                ranked = self._hybrid(snap, vector, tokens, fetch, sources)
            if mmr_lambda is not None:
                ranked = _mmr(snap, ranked, k, mmr_lambda)
        return [replace(p, score=score, scores=scores) for p, score, scores in ranked[:k]]

    def _hybrid(
        self,
        snap: Snapshot,
        vector: Sequence[float],
        tokens: Sequence[str],
        fetch: int,
        sources: list[str] | None,
    ) -> Ranked:
        dense_hits = snap.dense(vector, fetch, sources)
        mass = snap.term_stats(tokens).mass(tokens)
        keyword_hits = snap.keyword(tokens, fetch, sources)
        passages: dict[str, Passage] = {}
        per: dict[str, dict[str, float]] = {}
        for passage, cosine in dense_hits:
            passages[passage.chunk_id] = passage
            per[passage.chunk_id] = {"dense": cosine}
        for passage, raw in keyword_hits:
            passages.setdefault(passage.chunk_id, passage)
            per.setdefault(passage.chunk_id, {}).update(bm25=raw, bm25_norm=raw / mass)
        # Every candidate is scored exactly on both sides: one found only by BM25 gets its real
        # cosine (so the relevance threshold sees a real dense score), one found only by dense
        # search gets its real BM25 score (it may match the question's words, just not enough
        # of them to make the keyword top list).
        missing = [key for key, scores in per.items() if "dense" not in scores]
        for key, cosine in snap.cosines(vector, missing).items():
            per[key]["dense"] = cosine
        unscored = [key for key, scores in per.items() if "bm25" not in scores]
        for key, raw in snap.keyword_scores(tokens, unscored).items():
            per[key].update(bm25=raw, bm25_norm=raw / mass)
        if self.fusion == "rrf":
            fused = rrf_fuse(
                {"dense": [p.chunk_id for p, _ in dense_hits],
                 "bm25": [p.chunk_id for p, _ in keyword_hits]},
                self.weights,
                self.rrf_k,
            )
        else:
            fused = score_fuse(per, self.weights)
        order = sorted(fused, key=lambda key: -fused[key])
        return [(passages[key], fused[key], per[key]) for key in order]


def _mmr(snap: Snapshot, ranked: Ranked, k: int, lam: float) -> Ranked:
    if len(ranked) <= 1:
        return ranked
    keys = [p.chunk_id for p, _, _ in ranked]
    vectors = snap.vectors(keys)
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
