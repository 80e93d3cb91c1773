"""Calibrate CHATBOT_MIN_RELEVANCE (abstain before asking the model) on benchmark data.

    .venv/bin/python benchmarks/abstention.py [--json OUT]

For each data set with unanswerable questions (benchmarks/data/pydoc_en, seed_en), ingests the
corpus with the local embeddings into a temporary data dir and records the best dense cosine
similarity of every question. A threshold should keep almost every answerable question
(abstaining wrongly costs a real answer; the model itself still abstains on the rest) while
catching what it can of the unanswerable ones. Prints, per threshold, the share of answerable
questions kept and of unanswerable questions stopped, over both data sets pooled.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from chatbot.bench import ingest_corpus, load_corpus, load_questions
from chatbot.config import Settings
from chatbot.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ["pydoc_en", "seed_en"]
THRESHOLDS = [0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40]


def best_scores(name: str, work: Path) -> list[tuple[bool, float]]:
    folder = ROOT / "benchmarks" / "data" / name
    corpus = load_corpus(folder / "corpus.jsonl")
    questions = load_questions(folder / "questions.jsonl", corpus)
    (work / name).mkdir()
    os.chdir(work)
    settings = Settings(
        llm_provider="fake", embeddings_provider="local", data_dir=work / f"{name}-data",
        _env_file=None,  # type: ignore[call-arg]
    )
    pipeline = Pipeline.build(settings)
    ingest_corpus(pipeline.index, corpus, Path(name))
    out = []
    for question in questions:
        hits = pipeline.retriever.dense(question.question, 1)
        out.append((question.answerable, hits[0][1] if hits else 0.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chatbot-abstention-"))
    pooled: list[tuple[bool, float]] = []
    for name in DATASETS:
        pooled += best_scores(name, work)
    answerable = [s for a, s in pooled if a]
    unanswerable = [s for a, s in pooled if not a]
    rows = []
    for threshold in THRESHOLDS:
        kept = sum(s >= threshold for s in answerable) / len(answerable)
        stopped = sum(s < threshold for s in unanswerable) / len(unanswerable)
        rows.append({"threshold": threshold, "answerable_kept": round(kept, 3),
                     "unanswerable_stopped": round(stopped, 3)})
        print(f"{threshold:.2f}  answerable kept {kept:.3f}  unanswerable stopped {stopped:.3f}")
    report = {"answerable": len(answerable), "unanswerable": len(unanswerable), "rows": rows}
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
