"""Hybrid fusion (calibrated score sum, weighted RRF) by hand; MMR; the source filter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chatbot.config import Settings
from chatbot.pipeline import Pipeline
from chatbot.retrieve import (
    DEFAULT_WEIGHTS,
    Retriever,
    mmr_select,
    rrf_fuse,
    score_fuse,
)
from chatbot.vectors import Collection


def test_score_fuse_by_hand() -> None:
    scores = {
        "a": {"dense": 0.8, "bm25": 12.0, "bm25_norm": 0.5},
        "b": {"dense": 0.6},  # BM25 matched nothing: counts as 0
    }
    fused = score_fuse(scores, {"dense": 0.65, "bm25": 0.35})
    assert fused["a"] == pytest.approx(0.65 * 0.8 + 0.35 * 0.5)
    assert fused["b"] == pytest.approx(0.65 * 0.6)


def test_rrf_fuse_by_hand() -> None:
    fused = rrf_fuse({"dense": ["a", "b"], "bm25": ["b", "c"]}, {"dense": 2.0, "bm25": 1.0}, 10)
    assert fused["a"] == pytest.approx(2 / 11)
    assert fused["b"] == pytest.approx(2 / 12 + 1 / 11)
    assert fused["c"] == pytest.approx(1 / 12)


def test_unknown_fusion_is_rejected(seeded: Pipeline) -> None:
    with pytest.raises(ValueError, match="unknown fusion"):
        Retriever(seeded.index, fusion="max")
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        seeded.retriever.retrieve("Xi", 3, mode="sparse")


def test_hybrid_scores_every_candidate_on_both_sides(seeded: Pipeline) -> None:
    question = "Which Kazakh president will Xi hold bilateral talks with?"
    retriever = seeded.retriever
    every_dense = {p.chunk_id: s for p, s in retriever.dense(question, k=100)}
    # The exact cosine given to candidates found only by BM25 equals Chroma's own.
    vector = seeded.embeddings.embed_query(question)
    with seeded.index.snapshot() as snap:
        cosines = snap.cosines(vector, list(every_dense))
    assert cosines.keys() == every_dense.keys()
    for key, value in every_dense.items():
        assert cosines[key] == pytest.approx(value, abs=1e-5)
    passages = retriever.retrieve(question, k=5, mode="hybrid", fetch_k=5)
    assert len(passages) == 5
    for p in passages:
        assert p.scores["dense"] == pytest.approx(every_dense[p.chunk_id], abs=1e-5)
        expected = DEFAULT_WEIGHTS["dense"] * p.scores["dense"] + DEFAULT_WEIGHTS[
            "bm25"
        ] * p.scores.get("bm25_norm", 0.0)
        assert p.score == pytest.approx(expected)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert "Tokayev" in passages[0].text


def test_rrf_fusion_and_single_modes(seeded: Pipeline, seed_dir: Path) -> None:
    question = "When did Xi last travel to Kazakhstan, then known as Astana?"
    rrf = Retriever(seeded.index, fusion="rrf").retrieve(question, k=3)
    assert "2017" in rrf[0].text
    assert rrf[0].score == pytest.approx(sum(DEFAULT_WEIGHTS.values()) / 61, rel=0.2)
    dense = seeded.retriever.retrieve(question, k=3, mode="dense")
    assert all(set(p.scores) == {"dense"} for p in dense)
    bm25 = seeded.retriever.retrieve(question, k=3, mode="bm25")
    assert all(set(p.scores) == {"bm25", "bm25_norm"} for p in bm25)
    assert all(p.scores["bm25_norm"] > 0 for p in bm25)


def test_mmr_select_by_hand() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # 0 and 1 are duplicates
    relevance = [0.9, 0.85, 0.5]
    assert mmr_select(relevance, vectors, 2, lam=1.0) == [0, 1]  # relevance only
    assert mmr_select(relevance, vectors, 2, lam=0.5) == [0, 2]  # the duplicate loses
    assert mmr_select(relevance, vectors, 5, lam=0.5) == [0, 2, 1]  # never more than given
    assert mmr_select(relevance, None, 2, lam=0.5) == [0, 1]  # no vectors: rank order


def test_mmr_skips_a_duplicated_document(
    fake_settings: Settings, tmp_path: Path, seed_dir: Path
) -> None:
    article = (seed_dir / "xi-kazakhstan-visit.txt").read_text(encoding="utf-8")
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "same-article.txt").write_text(article, encoding="utf-8")
    pipeline = Pipeline.build(fake_settings)
    pipeline.index.ingest([Path("seeds"), Path("copy")])
    question = "When did Xi last travel to Kazakhstan?"
    plain = pipeline.retriever.retrieve(question, k=2)
    assert plain[0].text == plain[1].text  # the same chunk, once from each file
    diverse = pipeline.retriever.retrieve(question, k=2, mmr_lambda=0.5)
    assert diverse[0].chunk_id == plain[0].chunk_id
    assert diverse[1].text != diverse[0].text
    for mode in ("dense", "bm25"):
        picked = pipeline.retriever.retrieve(question, k=2, mode=mode, mmr_lambda=0.5)
        assert len(picked) == 2 and picked[0].text != picked[1].text


def test_source_filter_restricts_every_mode(
    fake_settings: Settings, tmp_path: Path, seed_dir: Path
) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "bakery.txt").write_text(
        "The bakery on Elm Street sells rye bread. Xi never visited it.", encoding="utf-8"
    )
    pipeline = Pipeline.build(fake_settings)
    pipeline.index.ingest([Path("seeds"), Path("other")])
    assert pipeline.index.resolve_sources(["other/"]) == ["other/bakery.txt"]
    for mode in ("hybrid", "dense", "bm25"):
        hits = pipeline.retriever.retrieve("Xi visited", 5, mode, ["other/bakery.txt"])
        assert hits and {p.source for p in hits} == {"other/bakery.txt"}


def test_mmr_on_no_hits_returns_nothing(seeded: Pipeline) -> None:
    assert seeded.retriever.retrieve("quokka", 3, "bm25", mmr_lambda=0.5) == []


def test_dense_only_candidates_get_their_exact_keyword_score(seeded: Pipeline) -> None:
    # Here the top dense chunk is not the top BM25 chunk but shares words with the question.
    question = "Which newspaper did Xi write for?"
    every_bm25 = {p.chunk_id: raw for p, raw in seeded.retriever.bm25(question, k=1000)}
    [(top_dense, _)] = seeded.retriever.dense(question, 1)
    [(top_keyword, _)] = seeded.retriever.bm25(question, 1)
    assert top_dense.chunk_id != top_keyword.chunk_id and every_bm25[top_dense.chunk_id] > 0
    candidates = seeded.retriever.retrieve(question, 2, fetch_k=1)  # one from each side
    assert len(candidates) == 2
    for passage in candidates:
        assert passage.scores["bm25"] == pytest.approx(every_bm25[passage.chunk_id])
        assert passage.scores["dense"] > 0


def test_vectors_are_read_for_candidates_only(
    seeded: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyword-only candidate's cosine, and MMR, read the vectors of the candidates (at most
    2 × fetch_k), never the corpus's; the keyword side never reads the corpus either."""
    asked: list[int] = []
    original = Collection.vectors

    def counting(self: Collection, ids: Sequence[str]) -> Any:
        asked.append(len(ids))
        return original(self, ids)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("retrieval enumerated the collection")

    monkeypatch.setattr(Collection, "vectors", counting)
    monkeypatch.setattr(Collection, "all_ids", forbidden)
    monkeypatch.setattr(Collection, "stored_page", forbidden)
    question = "Which Kazakh president will Xi hold bilateral talks with?"
    for mmr in (None, 0.5):
        assert seeded.retriever.retrieve(question, 2, fetch_k=3, mmr_lambda=mmr)
    assert asked and max(asked) <= 6 < seeded.index.count()
