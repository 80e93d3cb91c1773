"""The FTS5 keyword index: FTS5's own BM25 and ours agree, the pruned top-k search is exactly
the brute-force top k, and the statistics stay equal to a recount through adds and removes."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.keyword import KeywordIndex, TermStats, bm25_tokens, terms

VOCAB = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "kilo", "lima"]


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    yield connection
    connection.close()


def build(db: sqlite3.Connection, texts: Sequence[str]) -> KeywordIndex:
    index = KeywordIndex("kw_0123")
    index.create(db)
    index.add(db, [(n, terms(text)) for n, text in enumerate(texts, 1)])
    return index


def brute_force(texts: Sequence[str], query: Sequence[str]) -> dict[int, float]:
    tokens = [bm25_tokens(t) for t in texts]
    df = {t: sum(t in set(ts) for ts in tokens) for t in set(query)}
    total = sum(len(ts) for ts in tokens)
    stats = TermStats(len(texts), total / len(texts), {t: n for t, n in df.items() if n})
    scores = {n: stats.score(query, ts) for n, ts in enumerate(tokens, 1)}
    return {n: s for n, s in scores.items() if s > 0}


def test_tokens_fold_plurals_and_drop_stop_words() -> None:
    assert bm25_tokens("The Libraries of its cities, and glasses!") == [
        "library", "city", "glasse"
    ]


def test_our_scores_are_fts5s_bm25(db: sqlite3.Connection) -> None:
    texts = [
        "The tram depot closes at midnight; trams run every ten minutes.",
        "A day ticket covers every tram and bus line.",
        "Glacier walks leave from the valley station every morning.",
        "tram tram tram",
        "Nothing relevant here at all.",
    ]
    index = build(db, texts)
    query = bm25_tokens("every tram ticket, tram depot")
    expression = " OR ".join(f'"{t}"' for t in query)
    fts = dict(
        db.execute(
            "SELECT rowid, -bm25(kw_0123) FROM kw_0123 WHERE kw_0123 MATCH ?", (expression,)
        ).fetchall()
    )
    lookup = lambda ids: {i: terms(texts[i - 1]) for i in ids}  # noqa: E731
    ours = index.scores(db, query, list(range(1, 6)), lookup)
    assert ours.keys() == fts.keys() == {1, 2, 3, 4}
    for rowid, score in fts.items():
        assert ours[rowid] == pytest.approx(score, rel=1e-12)


corpora = st.lists(
    st.lists(st.sampled_from(VOCAB[:3]) | st.sampled_from(VOCAB), min_size=0, max_size=12),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    corpus=corpora,
    query=st.lists(st.sampled_from([*VOCAB, "zulu"]), min_size=1, max_size=6),
    k=st.integers(1, 8),
    budget=st.integers(1, 30),
    cap=st.integers(1, 60),
)
def test_pruned_search_is_the_exact_top_k_or_says_it_is_not(
    corpus: list[list[str]], query: list[str], k: int, budget: int, cap: int
) -> None:
    texts = [" ".join(words) for words in corpus]
    expected = brute_force(texts, query)
    best = sorted(expected.values(), reverse=True)[:k]
    with sqlite3.connect(":memory:", isolation_level=None) as db:
        index = build(db, texts)
        lookup = lambda ids: {i: terms(texts[i - 1]) for i in ids}  # noqa: E731
        unbounded = index.search(db, query, k, lookup, budget=budget, cap=10**9)
        capped = index.search(db, query, k, lookup, budget=budget, cap=cap)
    assert unbounded.exact
    assert [score for _, score in unbounded.hits] == pytest.approx(best, rel=1e-9)
    for found in (unbounded, capped):
        for rowid, score in found.hits:
            assert expected[rowid] == pytest.approx(score, rel=1e-9)
        assert [s for _, s in found.hits] == sorted((s for _, s in found.hits), reverse=True)
    if capped.exact:
        assert [score for _, score in capped.hits] == pytest.approx(best, rel=1e-9)


def test_search_within_some_rows(db: sqlite3.Connection) -> None:
    texts = ["tram ticket", "tram depot", "bus stop", "ticket", "train", "walk", "bike", "car"]
    index = build(db, texts)
    lookup = lambda ids: {i: terms(texts[i - 1]) for i in ids}  # noqa: E731
    found = index.search(db, ["tram", "ticket"], 5, lookup, within=("rowid IN (?, ?)", [2, 4]))
    hits = found.hits
    assert [rowid for rowid, _ in hits] == [4, 2]


@settings(max_examples=60, deadline=None)
@given(corpus=corpora, removed=st.sets(st.integers(1, 40)))
def test_statistics_stay_equal_to_a_recount(corpus: list[list[str]], removed: set[int]) -> None:
    texts = [" ".join(words) for words in corpus]
    with sqlite3.connect(":memory:", isolation_level=None) as db:
        index = build(db, texts)
        gone = sorted(n for n in removed if n <= len(texts))
        index.remove(db, [(n, terms(texts[n - 1])) for n in gone])
        kept = [t for n, t in enumerate(texts, 1) if n not in gone]
        stats = index.stats(db, VOCAB)
        assert stats.rows == len(kept) == index.rows(db)
        tokens = [bm25_tokens(t) for t in kept]
        assert stats.avgdl == pytest.approx(sum(map(len, tokens)) / len(kept) if kept else 0)
        assert dict(stats.df) == {
            t: n for t in VOCAB if (n := sum(t in set(ts) for ts in tokens))
        }
        fts_rows = db.execute("SELECT count(*) FROM kw_0123").fetchone()[0]
        assert fts_rows == len(kept)


def test_idf_mass_counts_unseen_terms_as_rarest() -> None:
    stats = TermStats(3, 2.0, {"rye": 2, "bread": 1})
    assert stats.mass(["bread"]) == pytest.approx(stats.idf("bread"))
    assert stats.idf("quokka") == pytest.approx(math.log(3.5 / 0.5))
    assert stats.mass([]) == 1.0  # never divides by zero
    assert stats.idf("rye") == 1e-6  # in most chunks: FTS5 floors the IDF
