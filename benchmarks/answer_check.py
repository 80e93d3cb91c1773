"""The model check (`CHATBOT_ANSWER_CHECK`) measured against no check, in one run.

    .venv/bin/python benchmarks/answer_check.py --corpus C.jsonl --questions Q.jsonl \
        [--limit N] [--json OUT]

For every question the pipeline runs as `chatbot bench --answers` does (check off), and the
check is asked first, in the order production uses (check, then the answer, so the answer reuses
the check's cached prompt prefix). "check on" takes each answer unless the check said no, in
which case it abstains. Both get the same metrics as `chatbot bench` (abstention recall and
precision, false abstention, answer match, citation precision), plus the check's time.
Where the server returns logprobs, "sweep" gives the "check on" metrics for each threshold on
the model's probability of "answerable" (`CHATBOT_ANSWER_CHECK_MIN_YES`), from the same replies.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from chatbot.answer import ABSTENTION, ask, prepare
from chatbot.answerable import model_check
from chatbot.bench import ingest_corpus, load_corpus, load_questions, settings_report
from chatbot.bench_metrics import AnswerRecord, answer_metrics
from chatbot.config import Settings
from chatbot.evaluate import throwaway_pipeline


def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = load_corpus(args.corpus)
    questions = load_questions(args.questions, corpus)[: args.limit]
    settings = Settings(answer_check=False)
    off: list[AnswerRecord] = []
    on: list[AnswerRecord] = []
    check_s: list[float] = []
    verdicts: list[Any] = []
    details = []
    with (
        throwaway_pipeline(settings, "check") as pipeline,
        tempfile.TemporaryDirectory(prefix="chatbot-check-") as work,
    ):
        mapping, _ = ingest_corpus(pipeline.index, corpus, Path(work))
        for done, q in enumerate(questions, 1):
            prepared = prepare(pipeline, q.question, settings.k, settings.retriever)
            verdict = model_check(pipeline, prepared.messages) if prepared.messages else None
            answer = ask(pipeline, q.question)
            record = AnswerRecord(
                id=q.id, question=q.question, gold=list(q.gold_passage_ids),
                answers=list(q.answers), answer=answer.answer, abstained=answer.abstained,
                citations=[(mapping.get(c.source, c.source), c.text) for c in answer.citations],
                first_token_s=answer.timings.get("first_token_s"),
                total_s=float(answer.timings.get("total_s") or 0.0),
            )
            off.append(record)
            said_no = verdict is not None and verdict.answerable is False
            on.append(_abstained(record) if said_no else record)
            verdicts.append(verdict)
            if verdict is not None:
                check_s.append(verdict.seconds)
            details.append({"id": q.id, "answerable": bool(q.gold_passage_ids),
                            "gated": verdict is None,
                            "check": None if verdict is None else verdict.answerable,
                            "structured": None if verdict is None else verdict.structured,
                            "p_yes": None if verdict is None else verdict.p_yes,
                            "abstained": answer.abstained, "answer": answer.answer})
            print(f"{done}/{len(questions)} {q.id} check={details[-1]['check']}", flush=True)
    return {
        "questions": str(args.questions), "n": len(questions),
        "check_off": answer_metrics(off), "check_on": answer_metrics(on),
        "check_s_median": round(statistics.median(check_s), 3) if check_s else None,
        "sweep": sweep(off, verdicts),
        "settings": settings_report(settings), "details": details,
    }


def _abstained(record: AnswerRecord) -> AnswerRecord:
    """The record as if the check had said no: the abstention, no citations."""
    return dataclasses.replace(record, answer=ABSTENTION, abstained=True, citations=[])


def sweep(off: list[AnswerRecord], verdicts: list[Any]) -> dict[str, Any]:
    """"check on" metrics for thresholds on P(answerable), where the replies carried one."""
    if not any(v is not None and v.p_yes is not None for v in verdicts):
        return {}
    out = {}
    for step in range(5, 20):
        threshold = step / 20
        records = [
            _abstained(r)
            if v is not None
            and (v.p_yes < threshold if v.p_yes is not None else v.answerable is False)
            else r
            for r, v in zip(off, verdicts, strict=True)
        ]
        out[f"{threshold:.2f}"] = answer_metrics(records)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", type=Path, default=Path("answer-check.json"))
    args = parser.parse_args()
    report = run(args)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    for name in ("check_off", "check_on"):
        print(name, json.dumps(report[name]))
    for threshold, metrics in report["sweep"].items():
        print(f"min_yes {threshold}: abstention recall {metrics['abstention_recall']}, false "
              f"abstention {metrics['false_abstention']}, answer match {metrics['answer_match']}")
    print("check median s", report["check_s_median"])


if __name__ == "__main__":
    main()
