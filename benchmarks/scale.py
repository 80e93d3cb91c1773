"""Retrieval and ingestion as the index grows, up to a million chunks.

    .venv/bin/python benchmarks/scale.py --chunks 1000000 --json scale.json --plot scale.png
    .venv/bin/python benchmarks/scale.py --embeddings local --chunks 50000 --json scale-local.json

Builds a synthetic corpus from text the repo ships (benchmarks/synthetic.py; ~20 chunks per
file) and ingests it with the real ingest stage, `--batch-files` files at a time, into a fresh
data dir. At each step (10k, 30k, 100k, 300k, 1M chunks, capped at --chunks) it reports:

- steady retrieval latency (median, p90) of hybrid, dense and keyword retrieval (k = 3, the
  default), over --questions questions after one warm-up round;
- an incremental ingest of one new file, and the first hybrid question after it;
- the ingest time of the last batch (wall and CPU, and the parts spent embedding, in Chroma's
  upsert and in the keyword index);
- peak RSS of this process; the RSS the keyword side and the dense side each add, measured in
  separate processes that open only that side and answer the questions (`--side`);
- disk size of index.db and of Chroma's folder.

Timings are wall-clock on whatever else the machine runs; CPU times are given next to them.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic

from chatbot import records, vectors
from chatbot.config import Settings
from chatbot.index import Index
from chatbot.ingest import ingest
from chatbot.keyword import KeywordIndex, bm25_tokens
from chatbot.providers import make_embeddings
from chatbot.retrieve import Retriever

STEPS = (10_000, 30_000, 100_000, 300_000, 1_000_000)
MODES = ("hybrid", "dense", "bm25")


class Clock:
    """Wall time spent inside wrapped functions, by name."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        inner = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - started

        setattr(owner, attribute, timed)

    def take(self) -> dict[str, float]:
        spent, self.spent = self.spent, {}
        return {name: round(seconds, 3) for name, seconds in spent.items()}


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def du_mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout
    return int(out.split()[0]) / 1024


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    result: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    yield result
    result["wall_s"] = round(time.perf_counter() - wall, 3)
    result["cpu_s"] = round(time.process_time() - cpu, 3)


def latencies(retriever: Retriever, questions: Sequence[str], mode: str) -> dict[str, float]:
    times = []
    for question in questions:
        started = time.perf_counter()
        retriever.retrieve(question, 3, mode)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(percentile(times, 0.9), 1),
        "max_ms": round(max(times), 1),
    }


def side_rss(settings: Settings, side: str, questions: Sequence[str]) -> dict[str, float]:
    """RSS one side adds, measured in a process of its own (see `run_side`)."""
    command = [
        sys.executable, __file__, "--side", side, "--data-dir", str(settings.data_dir),
        "--embeddings", settings.embeddings_provider,
    ]
    result = subprocess.run(
        command, input=json.dumps(list(questions)), capture_output=True, text=True, check=True
    )
    return dict(json.loads(result.stdout))


def run_side(side: str, data_dir: Path, provider: str) -> None:
    """Answer the questions on stdin with one side only; print the RSS it added (peak over
    the process before opening it)."""
    questions = json.loads(sys.stdin.read())
    settings = Settings(
        llm_provider="fake", embeddings_provider=provider, data_dir=data_dir,
        _env_file=None,  # type: ignore[call-arg]
    )
    embeddings = make_embeddings(settings)
    query_vectors = [embeddings.embed_query(q) for q in questions]
    before = rss_mb()
    if side == "keyword":
        db = records.connect(data_dir / "index.db")
        physical = records.spaces(db, settings.collection)[0] or settings.collection
        keyword: KeywordIndex = records.keyword_index(physical)

        for question in questions:
            keyword.search(db, bm25_tokens(question), 12, partial(records.chunk_terms, db))
    else:
        index = Index(settings, embeddings)
        with index.snapshot() as snap:
            assert snap.collection is not None
            for vector in query_vectors:
                snap.collection.search(vector, 12)
    added = rss_mb("VmHWM") - before
    print(json.dumps({"before_mb": round(before, 1), "added_mb": round(added, 1)}))


def after_ingests(
    index: Index, retriever: Retriever, questions: Sequence[str], extra: Path, seed: int,
    number: int, rounds: int = 5,
) -> dict[str, Any]:
    """`rounds` times: ingest one new file, then time the next hybrid question (a different
    question each round), and the same questions again once everything is settled."""
    ingests, firsts, settled = [], [], []
    for n in range(rounds):
        [path] = synthetic.write_files(extra, seed, number + n, 1)
        with stopwatch() as one_file:
            ingest(index, [path])
        ingests.append(one_file)
        started = time.perf_counter()
        retriever.retrieve(questions[n % len(questions)], 3, "hybrid")
        firsts.append((time.perf_counter() - started) * 1000)
    for n in range(rounds):
        started = time.perf_counter()
        retriever.retrieve(questions[n % len(questions)], 3, "hybrid")
        settled.append((time.perf_counter() - started) * 1000)
    return {
        "one_file_ingest": {
            "wall_s": round(statistics.median(i["wall_s"] for i in ingests), 3),
            "cpu_s": round(statistics.median(i["cpu_s"] for i in ingests), 3),
            "max_wall_s": round(max(i["wall_s"] for i in ingests), 3),
        },
        "first_question_ms": round(statistics.median(firsts), 1),
        "same_questions_settled_ms": round(statistics.median(settled), 1),
    }


def keyword_exactness(index: Index, questions: Sequence[str]) -> str:
    """How many keyword searches (top 12) were proven to be the exact BM25 top 12."""
    with index.snapshot() as snap:
        found = [
            snap.keyword_index.search(
                snap.db, bm25_tokens(q), 12, partial(records.chunk_terms, snap.db)
            ).exact
            for q in questions
        ]
    return f"{sum(found)}/{len(found)}"


def measure(
    index: Index, retriever: Retriever, questions: Sequence[str], extra: Path, seed: int,
    number: int,
) -> dict[str, Any]:
    """Everything reported at one step."""
    for question in questions:  # warm-up round
        retriever.retrieve(question, 3, "hybrid")
    result: dict[str, Any] = {mode: latencies(retriever, questions, mode) for mode in MODES}
    result |= after_ingests(index, retriever, questions, extra, seed, number)
    result["keyword_proven_exact"] = keyword_exactness(index, questions)
    settings = index.settings
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["rss_mb"] = round(rss_mb(), 1)
    result["keyword_side"] = side_rss(settings, "keyword", questions)
    result["dense_side"] = side_rss(settings, "dense", questions)
    data = settings.data_dir
    index_db = sum(du_mb(data / n) for n in ("index.db", "index.db-wal"))
    result["disk_mb"] = {"index_db": round(index_db, 1), "chroma": round(du_mb(data / "chroma"), 1)}
    return result


def run(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    work = Path(args.work or tempfile.mkdtemp(prefix="chatbot-scale-"))
    settings = Settings(
        llm_provider="fake", embeddings_provider=args.embeddings, data_dir=work / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    clock = Clock()
    embeddings = make_embeddings(settings)
    clock.wrap(embeddings, "embed_documents", "embed_s")
    clock.wrap(vectors.Collection, "upsert", "chroma_upsert_s")
    clock.wrap(KeywordIndex, "_change", "keyword_s")
    index = Index(settings, embeddings)
    retriever = Retriever(index)
    steps = [s for s in STEPS if s < args.chunks] + [args.chunks]
    questions = synthetic.questions(args.seed, 1000, args.questions)
    report: dict[str, Any] = {
        "work": str(work), "embeddings": settings.embedding_model, "batch_files": args.batch_files,
        "questions": len(questions), "steps": [], "batches": [],
    }
    files = 0
    if args.resume and args.json and args.json.exists():
        report = json.loads(args.json.read_text())
        folders = sorted((work / "corpus").glob("b*"))
        files = len(folders) * args.batch_files
        if folders:  # the batch a stopped run was ingesting (a no-op when it was committed)
            ingest(index, [folders[-1]])
        done = max((s["chunks"] for s in report["steps"]), default=0)
        steps = [s for s in steps if s > done]
        log(f"resuming at {index.count()} chunks, {files} files")
    for target in steps:
        while index.count() < target:
            folder = work / "corpus" / f"b{files // args.batch_files:05d}"
            synthetic.write_files(folder, args.seed, files, args.batch_files)
            files += args.batch_files
            with stopwatch() as batch:
                written = ingest(index, [folder]).chunks_written
            batch.update(clock.take(), chunks=index.count(), written=written)
            report["batches"].append(batch)
            log(f"batch {len(report['batches'])}: {batch}")
        step = measure(index, retriever, questions, work / "extra", args.seed, 10**8 + files)
        step.update(chunks=index.count(), files=files, last_batch=report["batches"][-1])
        report["steps"].append(step)
        log(f"step {target}: {json.dumps(step)}")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    return report


def remeasure(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure an index a previous run left in --work again (as its last step), e.g. after a
    change to the query side, keeping that run's ingest batches."""
    previous = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    settings = Settings(
        llm_provider="fake", embeddings_provider=args.embeddings, data_dir=args.work / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    index = Index(settings, make_embeddings(settings))
    questions = synthetic.questions(args.seed, 1000, args.questions)
    files = len(list((args.work / "corpus").glob("*/*.txt")))
    step = measure(index, Retriever(index), questions, args.work / "extra", args.seed,
                   2 * 10**8 + len(list((args.work / "extra").glob("*.txt"))))
    batches = previous.get("batches", [])
    step.update(chunks=index.count(), files=files, last_batch=batches[-1] if batches else {})
    log(f"remeasured: {json.dumps(step)}")
    steps = [s for s in previous.get("steps", []) if s["chunks"] < step["chunks"] - 1000]
    report = previous | {"steps": [*steps, step], "work": str(args.work)}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


def table(report: dict[str, Any]) -> str:
    """The Markdown table of docs/benchmarks.md."""
    lines = [
        "| chunks | hybrid median / p90 | dense median / p90 | keyword median / p90 | first "
        "question after a one-file ingest (same questions settled) | one-file ingest (wall / "
        "CPU) | last batch (wall / CPU; Chroma upsert) | peak RSS | keyword side RSS | dense "
        "side RSS | index.db / chroma |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report["steps"]:
        b = s["last_batch"]
        settled = (  # not recorded by runs before it was added
            f"{s['same_questions_settled_ms']:.0f} ms" if "same_questions_settled_ms" in s else "—"
        )

        def pair(mode: str, s: dict[str, Any] = s) -> str:
            return f"{s[mode]['median_ms']:.0f} / {s[mode]['p90_ms']:.0f} ms"

        lines.append(
            f"| {s['chunks']:,} | {pair('hybrid')} | {pair('dense')} | {pair('bm25')} | "
            f"{s['first_question_ms']:.0f} ms ({settled}) | "
            f"{s['one_file_ingest']['wall_s']:.2f} s / {s['one_file_ingest']['cpu_s']:.2f} s | "
            f"{b['wall_s']:.1f} s / {b['cpu_s']:.1f} s; {b.get('chroma_upsert_s', 0):.1f} s | "
            f"{s['peak_rss_mb'] / 1024:.2f} GB | {s['keyword_side']['added_mb']:.0f} MB | "
            f"{s['dense_side']['added_mb']:.0f} MB | "
            f"{s['disk_mb']['index_db'] / 1024:.2f} / {s['disk_mb']['chroma'] / 1024:.2f} GB |"
        )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, batches = report["steps"], report["batches"]
    chunks = [s["chunks"] for s in steps]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for mode, label in (("hybrid", "hybrid"), ("dense", "dense"), ("bm25", "keyword")):
        medians = [s[mode]["median_ms"] for s in steps]
        left.plot(chunks, medians, marker="o", label=f"{label} median")
    left.plot(chunks, [s["first_question_ms"] for s in steps], "k--", marker="x",
              label="first question after a one-file ingest")
    left.set(xscale="log", xlabel="chunks", ylabel="ms", title="Retrieval latency (k = 3)")
    left.legend()
    x = [b["chunks"] for b in batches]
    right.plot(x, [b["wall_s"] for b in batches], label="batch wall")
    right.plot(x, [b["cpu_s"] for b in batches], label="batch CPU")
    right.plot(x, [b.get("chroma_upsert_s", 0) for b in batches], label="Chroma upsert")
    right.plot(x, [b.get("keyword_s", 0) for b in batches], label="keyword index")
    right.plot(x, [b.get("embed_s", 0) for b in batches], label="embedding")
    right.set(xlabel="chunks in the index", ylabel="seconds per batch",
              title=f"Ingest, {report['batch_files']} files per batch")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000, help="last step")
    parser.add_argument("--batch-files", type=int, default=250, help="files per ingest call")
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--embeddings", default="fake", choices=["fake", "local"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="keep the corpus and index here")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument(
        "--measure-only", action="store_true",
        help="measure the index a previous run left in --work again (with --json: update it)",
    )
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the run whose index is in --work and whose report is in --json",
    )
    parser.add_argument("--side", choices=["keyword", "dense"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        run_side(args.side, args.data_dir, args.embeddings)
        return
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    report = remeasure(args, log) if args.measure_only else run(args, log)
    print(table(report))
    if args.plot:
        plot(report, args.plot)


if __name__ == "__main__":
    main()
