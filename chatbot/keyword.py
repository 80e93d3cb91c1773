"""The keyword (BM25) index: SQLite FTS5 in index.db, updated in the same transaction as the
document records, never rebuilt from the corpus and never held in memory.

Chunks are indexed pre-tokenised by `bm25_tokens` (lowercase, stop words dropped, plurals
folded) and joined with spaces; FTS5's `ascii` tokenizer then splits exactly there, so the index
sees our tokens. The statistics BM25 needs (rows, total tokens, each term's document frequency)
live in ordinary tables kept in step with the rows, so the IDF of a question's terms costs one
indexed lookup each, however large the corpus.

Scores are FTS5's own BM25 (k1 = 1.2, b = 0.75, idf = ln((N - n + 0.5) / (n + 0.5)), at least
1e-6), computed by FTS5 for ranking and by `TermStats.score` for any given chunk (they agree).
FTS5 ranks every chunk that holds a term of the MATCH expression, a few microseconds each, so
ranking all chunks that share a common word with the question grows with the corpus. A search
therefore asks FTS5 only for the chunks holding the question's rarer terms (about `BUDGET`
postings), ranked by BM25 over all the question's terms, and scores the best of them exactly.
The answer is the exact top k whenever that is proven: when every term could be ranked, or when
no chunk left out can beat the k-th (a candidate's rank score is at least its real score; a
chunk holding none of the rarer terms scores at most what the common terms can add, bounded by
their IDF). When it is not proven and more terms would exceed `CAP` postings, the best
candidates found are returned, marked `exact=False` (how close they come is measured on a
million chunks in docs/benchmarks.md).
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

K1 = 1.2
B = 0.75
#: Postings (summed document frequencies) FTS5 ranks in the first round of a search.
BUDGET = 20_000
#: Postings a search ranks at most (besides its rarest term's) before it settles for the best
#: candidates found (see `search`).
CAP = 60_000
#: Candidates fetched from FTS5 per round (ranked by FTS5, then scored exactly in order, `SCAN`
#: at a time, only until no candidate left can change the top k).
CANDIDATES = 200
SCAN = 25

#: Returns the indexed tokens (space-joined, as `terms()` made them) of chunks by rowid.
TokenLookup = Callable[[Sequence[int]], dict[int, str]]

_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be been but by did do does for from had has have he her his how i if "
        "in into is it its of on or she so than that the their them then there these they this to "
        "was we were what when where which while who whom why will with would you your",
    )
)


def terms(text: str) -> str:
    """What the index stores for a chunk: its `bm25_tokens`, joined by spaces."""
    return " ".join(bm25_tokens(text))


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


class Hits(NamedTuple):
    """A keyword search's result: (rowid, score) best first, and whether it is proven to be
    the exact BM25 top k."""

    hits: list[tuple[int, float]]
    exact: bool


@dataclass(frozen=True)
class TermStats:
    """What BM25 needs to know about the corpus for one question."""

    rows: int
    avgdl: float
    df: Mapping[str, int]

    def idf(self, term: str) -> float:
        """FTS5's IDF; an unseen term counts as the rarest possible."""
        n = self.df.get(term, 0)
        value = math.log((self.rows - n + 0.5) / (n + 0.5)) if self.rows else 0.0
        return max(value, 1e-6)

    def mass(self, tokens: Sequence[str]) -> float:
        """Sum of the IDF of the question's terms: about the BM25 score of a chunk of average
        length containing each term once (the calibration divisor of hybrid fusion)."""
        return sum(self.idf(t) for t in tokens) or 1.0

    def score(self, query: Sequence[str], tokens: Sequence[str]) -> float:
        """Exact BM25 of one chunk's tokens for the query terms (repeated terms count again,
        as they do in FTS5)."""
        if not self.rows:
            return 0.0
        norm = K1 * (1 - B + B * len(tokens) / (self.avgdl or 1.0))
        score = 0.0
        for term in query:
            tf = tokens.count(term)
            if tf:
                score += self.idf(term) * tf * (K1 + 1) / (tf + norm)
        return score


class KeywordIndex:
    """One collection's FTS5 table `name` and its statistics (`<name>_terms`, `keyword_stats`).

    Every method works inside the caller's connection and transaction, so keyword rows change
    together with the records they belong to.
    """

    def __init__(self, name: str) -> None:
        if not re.fullmatch(r"kw_[0-9a-f]+", name):
            raise ValueError(f"invalid keyword table name {name!r}")
        self.name = name

    def create(self, db: sqlite3.Connection) -> None:
        db.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.name} USING fts5("
            "tokens, content='', tokenize=\"ascii tokenchars '_'\")"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.name}_terms "
            "(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS keyword_stats "
            "(name TEXT PRIMARY KEY, rows INTEGER NOT NULL, tokens INTEGER NOT NULL)"
        )
        db.execute("INSERT OR IGNORE INTO keyword_stats VALUES (?, 0, 0)", (self.name,))

    def drop(self, db: sqlite3.Connection) -> None:
        db.execute(f"DROP TABLE IF EXISTS {self.name}")
        db.execute(f"DROP TABLE IF EXISTS {self.name}_terms")
        db.execute("DELETE FROM keyword_stats WHERE name = ?", (self.name,))

    # --- writing ---------------------------------------------------------------------------
    def add(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str]]) -> None:
        """Index chunks given as (rowid, `terms(text)`)."""
        self._change(db, rows, "add")

    def remove(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str]]) -> None:
        """Unindex chunks given as (rowid, the terms they were indexed with)."""
        self._change(db, rows, "remove")

    def _change(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str]], how: str) -> None:
        sign = 1 if how == "add" else -1
        entries = list(rows)
        if not entries:
            return
        if how == "add":
            db.executemany(f"INSERT INTO {self.name}(rowid, tokens) VALUES (?, ?)", entries)
        else:
            db.executemany(
                f"INSERT INTO {self.name}({self.name}, rowid, tokens) VALUES ('delete', ?, ?)",
                entries,
            )
        df: Counter[str] = Counter()
        tokens = 0
        for _, joined in entries:
            terms = joined.split()
            tokens += len(terms)
            df.update(set(terms))
        db.executemany(
            f"INSERT INTO {self.name}_terms VALUES (?, ?) "
            "ON CONFLICT(term) DO UPDATE SET df = df + excluded.df",
            [(term, sign * count) for term, count in df.items()],
        )
        if sign < 0:
            db.execute(f"DELETE FROM {self.name}_terms WHERE df <= 0")
        db.execute(
            "UPDATE keyword_stats SET rows = rows + ?, tokens = tokens + ? WHERE name = ?",
            (sign * len(entries), sign * tokens, self.name),
        )

    # --- reading ---------------------------------------------------------------------------
    def stats(self, db: sqlite3.Connection, terms: Iterable[str]) -> TermStats:
        row = db.execute(
            "SELECT rows, tokens FROM keyword_stats WHERE name = ?", (self.name,)
        ).fetchone()
        rows, tokens = (int(row[0]), int(row[1])) if row else (0, 0)
        wanted = sorted(set(terms))
        df: dict[str, int] = {}
        for begin in range(0, len(wanted), 500):
            part = wanted[begin : begin + 500]
            marks = ",".join("?" * len(part))
            df.update(
                db.execute(
                    f"SELECT term, df FROM {self.name}_terms WHERE term IN ({marks})", part
                ).fetchall()
            )
        return TermStats(rows, tokens / rows if rows else 0.0, df)

    def rows(self, db: sqlite3.Connection) -> int:
        row = db.execute(
            "SELECT rows FROM keyword_stats WHERE name = ?", (self.name,)
        ).fetchone()
        return int(row[0]) if row else 0

    def search(
        self,
        db: sqlite3.Connection,
        query: Sequence[str],
        k: int,
        tokens: TokenLookup,
        within: tuple[str, Sequence[object]] | None = None,
        budget: int = BUDGET,
        cap: int = CAP,
    ) -> Hits:
        """The BM25 top k as (rowid, score), best first; only chunks sharing a term.

        `tokens` returns the terms of chunks by rowid (to score candidates exactly); `within`
        is an SQL condition on `rowid` with its parameters, to search part of the corpus.
        The first round ranks the rarest terms holding about `budget` postings; later rounds
        add terms until the top k is proven exact, but never rank more than `cap` postings
        (beyond that the best candidates found so far are returned, `exact=False`).
        """
        stats = self.stats(db, query)
        present = [t for t in query if stats.df.get(t)]
        if not present or k <= 0:
            return Hits([], True)
        counts = Counter(present)
        # Rarest first: those decide the ranking; the common rest is bounded, not ranked.
        order = sorted(counts, key=lambda t: (stats.df[t], t))
        essential, postings = 1, stats.df[order[0]]
        while essential < len(order) and postings + stats.df[order[essential]] <= budget:
            postings += stats.df[order[essential]]
            essential += 1
        limit = max(CANDIDATES, 4 * k)
        while True:
            rest = order[essential:]
            bound_rest = sum(counts[t] * stats.idf(t) * (K1 + 1) for t in rest)
            ranked = self._ranked(db, order[:essential], present, limit, within)
            best, proven = self._scan(stats, present, k, ranked, limit, bound_rest, tokens)
            if proven or not rest:
                return Hits(best, True)
            kth = best[-1][1] if len(best) == k else 0.0
            if kth >= bound_rest * (1 + 1e-9) or postings + stats.df[rest[0]] > cap:
                return Hits(best, False)  # not proven: a chunk beyond the candidates may win
            postings += stats.df[rest[0]]  # chunks without an essential term may win
            essential += 1

    def _scan(
        self,
        stats: TermStats,
        query: Sequence[str],
        k: int,
        ranked: list[tuple[int, float]],
        limit: int,
        bound_rest: float,
        tokens: TokenLookup,
    ) -> tuple[list[tuple[int, float]], bool]:
        """Score candidates exactly in rank order until none left can beat the k-th: a
        candidate's rank score is at least its real score, and one never fetched ranks below
        the last fetched (or holds no essential term, then scores at most `bound_rest`)."""
        best: list[tuple[int, float]] = []
        for begin in range(0, len(ranked), SCAN):
            batch = [rowid for rowid, _ in ranked[begin : begin + SCAN]]
            best += self._exact(stats, query, batch, tokens).items()
            best = sorted(best, key=lambda item: (-item[1], item[0]))[:k]
            following = begin + SCAN
            if following < len(ranked):
                below = ranked[following][1]
            else:
                below = ranked[-1][1] if len(ranked) == limit else 0.0
            if len(best) == k and best[-1][1] >= max(below, bound_rest) * (1 + 1e-9):
                return best, True
        return best, False

    def scores(
        self,
        db: sqlite3.Connection,
        query: Sequence[str],
        rowids: Sequence[int],
        tokens: TokenLookup,
    ) -> dict[int, float]:
        """Exact BM25 of the given chunks (those sharing no term score 0)."""
        return self._exact(self.stats(db, query), query, rowids, tokens)

    def _ranked(
        self,
        db: sqlite3.Connection,
        essential: Sequence[str],
        query: Sequence[str],
        limit: int,
        within: tuple[str, Sequence[object]] | None,
    ) -> list[tuple[int, float]]:
        """Chunks holding an essential term, best first by FTS5's BM25 over every query term
        plus the essential terms once more (the price of requiring them): at least the real
        score, exactly it when every term is essential."""
        every = " OR ".join(f'"{t}"' for t in query)
        expression = every
        if set(essential) != set(query):
            required = " OR ".join(f'"{t}"' for t in essential)
            expression = f"({required}) AND ({every})"
        condition, params = within or ("1", ())
        rows = db.execute(
            f"SELECT rowid, -bm25({self.name}) AS score FROM {self.name} "
            f"WHERE {self.name} MATCH ? AND {condition} ORDER BY score DESC LIMIT ?",
            (expression, *params, limit),
        ).fetchall()
        return [(int(rowid), float(score)) for rowid, score in rows]

    @staticmethod
    def _exact(
        stats: TermStats, query: Sequence[str], rowids: Sequence[int], tokens: TokenLookup
    ) -> dict[int, float]:
        found = tokens(rowids)
        scored = {rowid: stats.score(query, joined.split()) for rowid, joined in found.items()}
        return {rowid: score for rowid, score in scored.items() if score > 0}

