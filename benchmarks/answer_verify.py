"""A second check after the answer ("is this answer stated?") against the check before it.

    .venv/bin/python benchmarks/answer_verify.py --corpus C.jsonl --questions Q.jsonl --out V.json
    .venv/bin/python benchmarks/answer_verify.py --analyse V1.json [V2.json ...]

For every question that passes the relevance gates this asks, with today's defaults: the
production check before the answer (`answer_check_yes_no.md`, P(yes) as `pre`), then the answer
itself, then two verifications of that answer, each two tokens with P(yes) from logprobs:
`turn` asks in a follow-up turn whether the model's own answer is stated in the passages;
`proposed` repeats the answer prompt with the answer (markers removed) as a "Proposed answer:"
and asks whether the passages state that this is the answer. Both reuse the answer prompt's
processed prefix, so each costs well under a second after the answer. `--analyse` prints the
AUC of each score (unanswerable against answerable; wrong against right answers) and what a
verification at each threshold would stop on top of the production check at 0.5.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import collect_cli
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from chatbot import markers
from chatbot.answer import is_abstention, prepare
from chatbot.answerable import after_question, check_messages, yes_probability
from chatbot.bench_metrics import answer_match
from chatbot.config import Settings

TURN = "Is your answer stated in the passages? Reply yes or no."
PROPOSED = ("Proposed answer: {answer}\nDo the passages state that this is the answer to the "
            "question? Reply yes or no.")
SCORES = ("pre", "turn", "proposed")


def collect(args: argparse.Namespace) -> None:
    settings = Settings()
    rows: list[dict[str, Any]] = []
    with collect_cli.corpus_pipeline(args, settings, "verify") as (pipeline, questions):
        check = pipeline.chat.model.bind(max_completion_tokens=2, logprobs=True, top_logprobs=10)
        model = pipeline.chat.model.bind(max_completion_tokens=settings.max_answer_tokens)

        def ask(messages: list[BaseMessage]) -> float | None:
            return yes_probability(check.invoke(messages).response_metadata.get("logprobs"))

        for done, q in enumerate(questions, 1):
            prepared = prepare(pipeline, q.question, settings.k, settings.retriever)
            row: dict[str, Any] = {"id": q.id, "answerable": bool(q.gold_passage_ids),
                                   "gated": not prepared.messages}
            if prepared.messages:
                row["pre"] = ask(check_messages(prepared.messages, settings, "answer_check_yes_no"))
                text = str(model.invoke(prepared.messages).content)
                row.update(text=text, abstained=is_abstention(text))
                row["match"] = not row["abstained"] and answer_match(text, list(q.answers))
                if not row["abstained"]:
                    row["turn"] = ask([*prepared.messages, AIMessage(text), HumanMessage(TURN)])
                    proposed = PROPOSED.format(answer=markers.strip(text).strip())
                    row["proposed"] = ask(after_question(prepared.messages, proposed))
            rows.append(row)
            print(f"{done}/{len(questions)} {q.id}", flush=True)
    args.out.write_text(json.dumps(rows), encoding="utf-8")


def auc(high: list[float], low: list[float]) -> str:
    """P(a score of `high` beats one of `low`), ties counting half."""
    if not high or not low:
        return "-"
    wins = sum((h > o) + 0.5 * (h == o) for h in high for o in low)
    return f"{wins / len(high) / len(low):.3f}"


def stopped(rows: list[dict[str, Any]], name: str | None, threshold: float) -> dict[bool, int]:
    """Questions stopped by the gates, the model, the check at 0.5 and `name` < threshold."""
    counts = {True: 0, False: 0}
    for r in rows:
        value = r.get(name) if name else None
        counts[bool(r["answerable"])] += bool(
            r["gated"] or r["abstained"] or (r["pre"] is not None and r["pre"] < 0.5)
            or (value is not None and value < threshold))
    return counts


def analyse(paths: list[Path]) -> None:
    rows = [r for p in paths for r in json.loads(p.read_text(encoding="utf-8"))]
    answered = [r for r in rows if not r["gated"] and not r["abstained"]]
    for name in SCORES:
        scored = [r for r in answered if r.get(name) is not None]
        answerable = auc([r[name] for r in scored if r["answerable"]],
                         [r[name] for r in scored if not r["answerable"]])
        right = auc([r[name] for r in scored if r["match"]],
                    [r[name] for r in scored if r["answerable"] and not r["match"]])
        print(f"{name}: AUC answerable vs unanswerable {answerable}, right vs wrong {right}")
    totals = {flag: sum(bool(r["answerable"]) == flag for r in rows) for flag in (True, False)}
    base = stopped(rows, None, 0.0)
    print(f"production (gates, the model, check at 0.5): {base[False]}/{totals[False]} "
          f"unanswerable, {base[True]}/{totals[True]} answerable stopped")
    for name in ("turn", "proposed"):
        for threshold in (0.5, 0.6, 0.7):
            more = stopped(rows, name, threshold)
            lost = sum(1 for r in answered if r["match"] and (r["pre"] or 0) >= 0.5
                       and r.get(name) is not None and r[name] < threshold)
            print(f"  + {name} >= {threshold}: {more[False]} unanswerable, {more[True]} "
                  f"answerable stopped ({lost} right answers among them)")


def main() -> None:
    collect_cli.run(__doc__ or "", collect, analyse)


if __name__ == "__main__":
    main()
