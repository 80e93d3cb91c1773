"""How the wording of the model check changes its probability of "answerable", side by side.

    .venv/bin/python benchmarks/check_wording.py --corpus C.jsonl --questions Q.jsonl --out W.json
    .venv/bin/python benchmarks/check_wording.py --analyse W1.json [W2.json ...]

For every question that passes the relevance gates, the answer prompt is built once
(`chatbot.answer.prepare`, today's defaults) and each wording below is appended after the
question, as production does with `answer_check_yes_no.md`; the model replies with at most two
tokens and P(answerable) is read from the first token's top 10 alternatives. `copy` asks for the
answering words or NONE (the first step of quote-then-answer): P(answerable) = 1 - P(NONE).
`not_i` is 1 - P("I") at the first token of the answer itself ("I could not find ...").
No answer is written, so a run costs one prompt and five short replies per question.
`--analyse` prints, per wording and threshold, the questions stopped (gates + this check) among
the unanswerable and among the answerable ones, for each file.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import collect_cli

from chatbot.answer import prepare
from chatbot.answerable import after_question, yes_probability
from chatbot.config import Settings

WORDINGS = {
    "yesno": "Do the passages state the answer to this question? Reply yes or no.",
    "p1": "Does passage [1] state the answer to this question? Reply yes or no.",
    "exact": "Is the exact answer to this question written in the passages, not just related "
             "facts? Reply yes or no.",
    "copy": "Copy the exact words from the passages that answer the question. If no passage "
            "answers it, write NONE.",
}
THRESHOLDS = (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 0.95)


def first_token(logprobs: Any) -> dict[str, float]:
    """The first reply token's top alternatives as {token: probability}."""
    content = (logprobs or {}).get("content") or []
    probs: dict[str, float] = {}
    for alt in (content[0].get("top_logprobs") or []) if content else []:
        token = str(alt["token"]).strip()
        probs[token] = probs.get(token, 0.0) + math.exp(float(alt["logprob"]))
    return probs


def collect(args: argparse.Namespace) -> None:
    settings = Settings()
    rows: list[dict[str, Any]] = []
    with collect_cli.corpus_pipeline(args, settings, "wording") as (pipeline, questions):
        model = pipeline.chat.model.bind(max_completion_tokens=2, logprobs=True, top_logprobs=10)
        for done, q in enumerate(questions, 1):
            prepared = prepare(pipeline, q.question, settings.k, settings.retriever)
            row: dict[str, Any] = {"id": q.id, "answerable": bool(q.gold_passage_ids),
                                   "gated": not prepared.messages}
            if prepared.messages:
                reply = model.invoke(prepared.messages)
                first = first_token(reply.response_metadata.get("logprobs"))
                row["not_i"] = round(1 - first.get("I", 0.0), 4)
                for name, text in WORDINGS.items():
                    asked = after_question(prepared.messages, text)
                    logprobs = model.invoke(asked).response_metadata.get("logprobs")
                    if name == "copy":
                        none = sum(p for t, p in first_token(logprobs).items()
                                   if t.upper().startswith("NO"))
                        row[name] = round(1 - none, 4)
                    else:
                        row[name] = yes_probability(logprobs)
            rows.append(row)
            print(f"{done}/{len(questions)} {q.id}", flush=True)
    args.out.write_text(json.dumps(rows), encoding="utf-8")


def analyse(paths: list[Path]) -> None:
    files = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in paths}
    for name in (*WORDINGS, "not_i"):
        print(name)
        for threshold in THRESHOLDS:
            cells = []
            for stem, rows in files.items():
                counts = {True: [0, 0], False: [0, 0]}  # answerable -> [stopped, all]
                for r in rows:
                    value = r.get(name)
                    stop = bool(r["gated"]) or (value is not None and value < threshold)
                    counts[bool(r["answerable"])][0] += stop
                    counts[bool(r["answerable"])][1] += 1
                (u_stop, u_all), (a_stop, a_all) = counts[False], counts[True]
                cells.append(f"{stem}: {u_stop}/{u_all} unanswerable, "
                             f"{a_stop}/{a_all} answerable")
            print(f"  {threshold}: " + " | ".join(cells))


def main() -> None:
    collect_cli.run(__doc__ or "", collect, analyse)


if __name__ == "__main__":
    main()
