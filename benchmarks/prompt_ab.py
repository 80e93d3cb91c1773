"""Two answer prompts on the same passages, raw replies side by side (no citation check).

    .venv/bin/python benchmarks/prompt_ab.py --corpus C.jsonl --questions Q.jsonl \
        (--prompts DIR | --reverse | --top N) [--limit N] --out AB.json

For each question that passes the relevance gates, the bundled answer prompt ("base") and the
alternative ("alt") are sent with the same retrieved, narrowed passages: `--prompts DIR` takes
`answer_system.md` / `answer.md` from DIR (as `CHATBOT_PROMPTS_DIR` would); `--reverse` keeps
the bundled prompts and lists the prompt's passages in reverse, the first one last, next to
the question; `--top N` keeps only the prompt's first N passages. (The prompt lists passages by
source, best-ranked source first, so with one passage per document, as in XQuAD, "first" is
"best".) A reply with an "Answer:" line (the quote-then-answer prompt) is scored on
what follows it. Prints answer match, abstentions, answers gained and lost, and median reply
time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import collect_cli

from chatbot import question_types
from chatbot.answer import is_abstention, prepare
from chatbot.bench_metrics import answer_match
from chatbot.config import Settings
from chatbot.context import answer_messages


def score(text: str, answers: list[str]) -> dict[str, Any]:
    final = text.split("Answer:", 1)[1] if "Answer:" in text else text
    abstained = is_abstention(final.strip()) or is_abstention(text.strip())
    return {"text": text, "abstained": abstained,
            "match": not abstained and answer_match(final, answers)}


def collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    base = Settings()
    alt = base.with_overrides(prompts_dir=args.prompts) if args.prompts else base
    rows: list[dict[str, Any]] = []
    with collect_cli.corpus_pipeline(args, base, "prompt-ab") as (pipeline, questions):
        model = pipeline.chat.model.bind(max_completion_tokens=base.max_answer_tokens)
        for done, q in enumerate(questions, 1):
            row: dict[str, Any] = {"id": q.id, "question": q.question}
            prepared = prepare(pipeline, q.question, base.k, base.retriever)
            if not prepared.messages:
                row["gated"] = True
            else:
                hint = (question_types.hint(q.question, alt.prompts_dir)
                        if alt.question_hints else "")
                passages = prepared.passages[::-1] if args.reverse else prepared.passages
                passages = passages[: args.top] if args.top else passages
                other = answer_messages(passages, q.question, alt.prompts_dir,
                                        alt.injection_guard, hint)
                for name, messages in (("base", prepared.messages), ("alt", other)):
                    started = time.perf_counter()
                    row[name] = score(str(model.invoke(messages).content), list(q.answers))
                    row[name]["seconds"] = round(time.perf_counter() - started, 2)
            rows.append(row)
            print(f"{done}/{len(questions)} {q.id}", flush=True)
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    asked = [r for r in rows if not r.get("gated")]
    for name in ("base", "alt"):
        print(f"{name}: answer match {sum(r[name]['match'] for r in asked)} of {len(rows)}, "
              f"abstained {sum(r[name]['abstained'] for r in asked)}, median reply "
              f"{statistics.median(r[name]['seconds'] for r in asked) if asked else 0:.2f} s")
    gained = sum(r["alt"]["match"] and not r["base"]["match"] for r in asked)
    lost = sum(r["base"]["match"] and not r["alt"]["match"] for r in asked)
    print(f"alt gained {gained}, lost {lost}; {len(rows) - len(asked)} stopped by the gates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--prompts", type=Path, help="folder with the alternative prompts")
    group.add_argument("--reverse", action="store_true", help="passages reversed")
    group.add_argument("--top", type=int, help="only the prompt's first N passages")
    args = parser.parse_args()
    rows = collect(args)
    args.out.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    report(rows)


if __name__ == "__main__":
    main()
