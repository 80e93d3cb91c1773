"""The two candidates for the persistent keyword index, side by side: SQLite FTS5 (what
chatbot/keyword.py uses) and `bm25s` with a saved index.

    make install-bench   # bm25s, from requirements/bench.lock
    .venv/bin/python benchmarks/keyword_engines.py --chunks 100000 1000000 --json engines.json

For each size, the same synthetic chunks (benchmarks/synthetic.py: files cut into 700-character
chunks, tokenised by `bm25_tokens`) go into both engines, on disk in a temporary folder. Each
engine runs in a process of its own (so its memory is its own) and reports: the time to build
the index; the time to add one more file of ~20 chunks (FTS5: an insert in a transaction;
bm25s: it has no incremental update, so a rebuild from every chunk plus a save); the size on
disk; the top-12 query latency (median, p90) over the benchmark questions after a warm-up; the
RSS added by opening the index and answering (bm25s loaded with mmap=True, its lightest mode);
and how often the two agree on the top result.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic

from chatbot.keyword import KeywordIndex, bm25_tokens, terms

CHUNK = 700


def chunks(count: int, seed: int = 0, first: int = 0) -> Iterator[str]:
    """`count` chunk texts of the synthetic corpus, from file `first` on."""
    made, number = 0, first
    while made < count:
        text = synthetic.file_text(seed, number)
        for begin in range(0, len(text), CHUNK):
            yield text[begin : begin + CHUNK]
            made += 1
            if made == count:
                return
        number += 1


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def timings(run: Any, questions: list[list[str]]) -> dict[str, float]:
    for query in questions:  # warm-up
        run(query)
    times = []
    for query in questions:
        started = time.perf_counter()
        run(query)
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
    }


def fts5(folder: Path, count: int, questions: list[list[str]]) -> dict[str, Any]:
    path = folder / "fts5.db"
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    index = KeywordIndex("kw_0")
    index.create(db)
    db.execute("CREATE TABLE texts (rowid INTEGER PRIMARY KEY, terms TEXT)")
    batch: list[tuple[int, str]] = []
    for rowid, text in enumerate(chunks(count), 1):
        batch.append((rowid, text))
        if len(batch) == 5000:
            _fts_insert(db, index, batch)
            batch = []
    _fts_insert(db, index, batch)
    build = time.perf_counter() - started
    started = time.perf_counter()
    _fts_insert(db, index, list(enumerate(chunks(20, first=10**7), count + 1)))
    one_file = time.perf_counter() - started
    db.close()
    size = sum(p.stat().st_size for p in folder.glob("fts5.db*"))
    return {"build_s": round(build, 1), "one_file_s": round(one_file, 3),
            "disk_mb": round(size / 2**20, 1)} | measure("fts5", folder, questions)


def _fts_insert(db: sqlite3.Connection, index: KeywordIndex, rows: list[tuple[int, str]]) -> None:
    db.execute("BEGIN IMMEDIATE")
    rows = [(rowid, terms(text)) for rowid, text in rows]
    db.executemany("INSERT INTO texts VALUES (?, ?)", rows)
    index.add(db, rows)
    db.execute("COMMIT")


def bm25s_engine(folder: Path, count: int, questions: list[list[str]]) -> dict[str, Any]:
    import bm25s

    def build(total: int) -> None:
        corpus = [[sys.intern(t) for t in bm25_tokens(text)] for text in chunks(total)]
        retriever = bm25s.BM25()  # default: Lucene's BM25 (k1 = 1.5, b = 0.75)
        retriever.index(corpus, show_progress=False)
        retriever.save(str(folder / "bm25s"), show_progress=False)

    started = time.perf_counter()
    build(count)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    build(count + 20)  # no incremental update: a changed corpus is indexed again
    one_file = time.perf_counter() - started
    size = sum(p.stat().st_size for p in (folder / "bm25s").iterdir())
    return {"build_s": round(build_s, 1), "one_file_s": round(one_file, 3),
            "disk_mb": round(size / 2**20, 1)} | measure("bm25s", folder, questions)


def measure(engine: str, folder: Path, questions: list[list[str]]) -> dict[str, Any]:
    """Latency, RSS and top results, from a process of its own (`--query`)."""
    result = subprocess.run(
        [sys.executable, __file__, "--query", engine, str(folder)],
        input=json.dumps(questions), capture_output=True, text=True, check=True,
    )
    return dict(json.loads(result.stdout))


def query(engine: str, folder: Path) -> None:
    questions = json.loads(sys.stdin.read())
    before = rss_mb()
    if engine == "fts5":
        db = sqlite3.connect(folder / "fts5.db")
        index = KeywordIndex("kw_0")

        def lookup(rowids: Any) -> dict[int, str]:
            marks = ",".join("?" * len(rowids))
            sql = f"SELECT rowid, terms FROM texts WHERE rowid IN ({marks})"
            return dict(db.execute(sql, list(rowids)).fetchall())

        def run(q: list[str]) -> list[int]:
            return [rowid - 1 for rowid, _ in index.search(db, q, 12, lookup).hits]

        exactness = _exactness(index, db, lookup, questions)
    else:
        import bm25s

        retriever = bm25s.BM25.load(str(folder / "bm25s"), mmap=True)

        def run(q: list[str]) -> list[int]:
            if not any(t in retriever.vocab_dict for t in q):
                return []
            docs, _ = retriever.retrieve([q], k=12, show_progress=False)
            return [int(d) for d in docs[0]]

    latency = timings(run, questions)
    tops = [run(q)[:1] for q in questions]
    extra = {"rss_added_mb": round(rss_mb("VmHWM") - before, 1), "tops": tops}
    if engine == "fts5":
        extra |= exactness
    print(json.dumps(latency | extra))


def _exactness(index: KeywordIndex, db: Any, lookup: Any, questions: list[list[str]]) -> dict:
    """How many searches are proven exact, and how much of the exact top 12 (an unbounded
    search) the others hold."""
    proven, overlap = 0, []
    for q in questions:
        found = index.search(db, q, 12, lookup)
        exact = {rowid for rowid, _ in index.search(db, q, 12, lookup, cap=10**12).hits}
        proven += found.exact
        got = {rowid for rowid, _ in found.hits}
        overlap.append(len(got & exact) / len(exact) if exact else 1.0)
    return {"proven_exact": f"{proven}/{len(questions)}",
            "share_of_exact_top12": round(statistics.mean(overlap), 3),
            "worst_share": round(min(overlap), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--query", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.query:
        query(args.query[0], Path(args.query[1]))
        return
    questions = [bm25_tokens(q) for q in synthetic.questions(0, 10_000, args.questions)]
    report: dict[str, Any] = {}
    for count in args.chunks:
        folder = Path(tempfile.mkdtemp(prefix="chatbot-engines-"))
        try:
            row = {"fts5": fts5(folder, count, questions),
                   "bm25s": bm25s_engine(folder, count, questions)}
        finally:
            shutil.rmtree(folder)
        same = sum(a == b for a, b in zip(row["fts5"].pop("tops"), row["bm25s"].pop("tops"),
                                          strict=True))
        row["same_top_result"] = f"{same}/{len(questions)}"
        report[str(count)] = row
        print(json.dumps({count: row}), flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
