"""What the benchmarks that ask the model per question share: a throwaway pipeline holding the
corpus, and the command line of those that collect one JSON file per set, then analyse them.

    script.py --corpus C.jsonl --questions Q.jsonl --out R.json [--limit N]
    script.py --analyse R1.json [R2.json ...]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from chatbot.bench import QuestionRow, ingest_corpus, load_corpus, load_questions
from chatbot.config import Settings
from chatbot.evaluate import throwaway_pipeline
from chatbot.pipeline import Pipeline


@contextmanager
def corpus_pipeline(
    args: argparse.Namespace, settings: Settings, prefix: str
) -> Iterator[tuple[Pipeline, list[QuestionRow]]]:
    """A throwaway pipeline with `args.corpus` ingested, and the first `args.limit` questions."""
    corpus = load_corpus(args.corpus)
    questions = load_questions(args.questions, corpus)[: args.limit]
    with throwaway_pipeline(settings, prefix) as pipeline, tempfile.TemporaryDirectory() as work:
        ingest_corpus(pipeline.index, corpus, Path(work))
        yield pipeline, questions


def run(
    doc: str,
    collect: Callable[[argparse.Namespace], None],
    analyse: Callable[[list[Path]], None],
) -> None:
    """Parse the arguments and either collect one run or analyse saved ones."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--analyse", type=Path, nargs="+", help="print the trade-offs")
    args = parser.parse_args()
    if args.analyse:
        analyse(args.analyse)
    elif args.corpus and args.questions and args.out:
        collect(args)
    else:
        parser.error("--corpus, --questions and --out, or --analyse")
