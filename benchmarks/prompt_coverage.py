"""How often the gold answer is in the prompt at all, per passage length setting (no chat model).

    CHATBOT_LLM_PROVIDER=fake .venv/bin/python benchmarks/prompt_coverage.py \
        --corpus C.jsonl --questions Q.jsonl --limit 200 --passage-chars '[240]' '[480,160,80]'

The model can only answer from what it is shown: each chunk is narrowed to its best-matching
sentences (`CHATBOT_PASSAGE_CHARS`), and a gold answer cut away there is a miss before the model
reads anything. For each setting this prints the share of questions with a gold answer string
(SQuAD-normalised) in the passages of the prompt, and the prompt's median length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from chatbot.answer import prepare
from chatbot.bench import ingest_corpus, load_corpus, load_questions
from chatbot.bench_metrics import normalize_answer
from chatbot.config import Settings
from chatbot.evaluate import throwaway_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--passage-chars", nargs="+", default=["[240]"])
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    questions = [q for q in load_questions(args.questions, corpus)[: args.limit] if q.answers]
    base = Settings()
    with (
        throwaway_pipeline(base, "coverage") as pipeline,
        tempfile.TemporaryDirectory(prefix="chatbot-coverage-") as work,
    ):
        ingest_corpus(pipeline.index, corpus, Path(work))
        scoped = pipeline.settings
        for value in args.passage_chars:
            pipeline.settings = scoped.with_overrides(passage_chars=json.loads(value))
            found, chars = 0, []
            for q in questions:
                prepared = prepare(pipeline, q.question, base.k, base.retriever)
                shown = f" {normalize_answer(' '.join(p.text for p in prepared.passages))} "
                found += any(f" {normalize_answer(a)} " in shown for a in q.answers)
                chars.append(sum(len(p.text) for p in prepared.passages))
            print(f"passage_chars {value}: gold answer in the prompt for {found}/{len(questions)}"
                  f" questions ({found / len(questions):.3f}); median passage characters "
                  f"{statistics.median(chars):.0f}")


if __name__ == "__main__":
    main()
