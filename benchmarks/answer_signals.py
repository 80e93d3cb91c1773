"""Record, per question, the signals an abstention rule could use, for offline calibration.

    .venv/bin/python benchmarks/answer_signals.py --corpus C.jsonl --questions Q.jsonl \
        --out signals.jsonl [--limit N]

Ingests the corpus (embedded models) and, for each question, builds the exact prompt the
pipeline would send (`chatbot.answer.prepare`), then records: retrieval scores, how much of the
question the passages cover, the answer with the probabilities of its first token, a yes/no
"do the passages answer this?" judgement asked before answering (same prompt prefix, so the
server's cache makes it cheap) and one asked after, and the citation check. `--analyse FILE`
prints, per signal, abstention recall against false abstention at each threshold.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from chatbot.answer import is_abstention, prepare
from chatbot.bench import ingest_corpus, load_corpus, load_questions
from chatbot.bench_metrics import answer_match
from chatbot.citations import check
from chatbot.config import Settings
from chatbot.context import format_passages
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt
from chatbot.retrieve import bm25_tokens

JUDGE_BEFORE = "\nDo the passages state the answer to this question? Reply yes or no."
JUDGE_AFTER = "Is your answer stated in the passages? Reply yes or no."


def _probs(top: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in top:
        key = str(item["token"]).strip().lower()
        out[key] = out.get(key, 0.0) + math.exp(float(item["logprob"]))
    return out


def yes_probability(model: Any, messages: list[BaseMessage]) -> float | None:
    """P(yes) / (P(yes) + P(no)) of the first reply token, or None without logprobs."""
    reply = model.bind(logprobs=True, top_logprobs=10, max_completion_tokens=1).invoke(messages)
    content = (reply.response_metadata.get("logprobs") or {}).get("content") or []
    if not content:
        return None
    probs = _probs(content[0]["top_logprobs"])
    yes, no = probs.get("yes", 0.0), probs.get("no", 0.0)
    return yes / (yes + no) if yes + no > 0 else None


def coverage(question: str, text: str, weights: dict[str, float]) -> float:
    """IDF-weighted share of the question's terms that occur in `text`."""
    terms = set(bm25_tokens(question))
    total = sum(weights.get(t, 0.0) for t in terms)
    found = terms & set(bm25_tokens(text))
    return sum(weights.get(t, 0.0) for t in found) / total if total else 0.0


def with_prompts(messages: list[BaseMessage], passages: Any, question: str,
                 prompt_dir: Path | None) -> list[BaseMessage]:
    """The same passages laid out with the answer prompts of `prompt_dir` (an experiment)."""
    if prompt_dir is None:
        return messages
    system = load_prompt("answer_system", prompt_dir).template
    user = load_prompt("answer", prompt_dir).format(
        passages=format_passages(passages), question=question)
    return [SystemMessage(system), HumanMessage(user)]


def record(pipeline: Pipeline, question: Any, mapping: dict[str, str],
           prompt_dir: Path | None = None) -> dict[str, Any]:
    settings = pipeline.settings
    prepared = prepare(pipeline, question.question, settings.k, settings.retriever)
    prepared.messages = with_prompts(prepared.messages, prepared.passages, question.question,
                                     prompt_dir) if prepared.messages else []
    row: dict[str, Any] = {"id": question.id, "question": question.question,
                           "answerable": question.answerable, "answers": question.answers,
                           "gold": question.gold_passage_ids}
    if not prepared.messages:
        row["gated"] = True
        return row
    weights = pipeline.retriever.term_weights(question.question)
    passages = prepared.passages
    row.update(
        gated=False,
        best_dense=max(p.scores.get("dense", 0.0) for p in passages),
        best_bm25=max(p.scores.get("bm25_norm", 0.0) for p in passages),
        best_fused=max(p.score for p in passages),
        coverage_best=max(coverage(question.question, p.text, weights) for p in passages),
        coverage_all=coverage(question.question, " ".join(p.text for p in passages), weights),
        context=[p.text for p in passages],
    )
    model = pipeline.chat.model
    before = [*prepared.messages[:-1],
              HumanMessage(str(prepared.messages[-1].content) + JUDGE_BEFORE)]
    started = time.perf_counter()
    row["p_yes_before"] = yes_probability(model, before)
    row["judge_before_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    reply = model.bind(logprobs=True, top_logprobs=10).invoke(prepared.messages)
    row["answer_s"] = round(time.perf_counter() - started, 3)
    text = str(reply.content)
    content = (reply.response_metadata.get("logprobs") or {}).get("content") or []
    row["answer"] = text
    row["model_abstained"] = is_abstention(text)
    if content:
        first = _probs(content[0]["top_logprobs"])
        row["p_first_i"] = first.get("i", 0.0)
        logprobs = [float(t["logprob"]) for t in content]
        row["mean_logprob"] = sum(logprobs) / len(logprobs)
        row["min_logprob"] = min(logprobs)
    started = time.perf_counter()
    after = [*prepared.messages, AIMessage(text), HumanMessage(JUDGE_AFTER)]
    row["p_yes_after"] = yes_probability(model, after)
    row["judge_after_s"] = round(time.perf_counter() - started, 3)
    checked = check(text, passages)
    row["cited"] = [[mapping.get(c.source, c.source), c.text] for c in checked.citations]
    row["unsupported"] = sum(1 for s in checked.sentences if not s.supported)
    row["match"] = answer_match(text, question.answers) if question.answers else None
    return row


def collect(args: argparse.Namespace) -> None:
    corpus = load_corpus(args.corpus)
    questions = load_questions(args.questions, corpus)[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="chatbot-signals-"))
    (work / "corpus").mkdir()
    settings = Settings(data_dir=args.data_dir, collection=f"signals-{work.name[-8:]}".lower())
    pipeline = Pipeline.build(settings)
    mapping, _ = ingest_corpus(pipeline.index, corpus, work / "corpus")
    with args.out.open("w", encoding="utf-8") as out:
        for done, question in enumerate(questions, 1):
            row = record(pipeline, question, mapping, args.prompts)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            print(f"{done}/{len(questions)} {question.id}", file=sys.stderr)
    from chatbot.index import drop_index

    drop_index(settings)


def analyse(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    asked = [r for r in rows if not r["gated"]]
    pos = [r for r in rows if not r["answerable"]]
    neg = [r for r in rows if r["answerable"]]
    print(f"{len(rows)} questions: {len(neg)} answerable, {len(pos)} unanswerable, "
          f"{len(rows) - len(asked)} stopped by the relevance gate")
    model_only = [r for r in rows if r["gated"] or r.get("model_abstained")]
    _line("model's own abstention", model_only, pos, neg)
    for name, low_means_abstain in (
        ("best_dense", True), ("best_bm25", True), ("best_fused", True),
        ("coverage_best", True), ("coverage_all", True), ("p_yes_before", True),
        ("p_yes_after", True), ("p_first_i", False), ("mean_logprob", True),
        ("min_logprob", True),
    ):
        values = sorted({round(r[name], 3) for r in asked if r.get(name) is not None})
        print(f"-- {name}")
        for threshold in values[:: max(1, len(values) // 12)]:
            stop = [r for r in rows if r["gated"] or r.get("model_abstained") or (
                r.get(name) is not None
                and ((r[name] < threshold) if low_means_abstain else (r[name] > threshold)))]
            _line(f"   {threshold:>8}", stop, pos, neg)


def _line(label: str, stopped: list[dict[str, Any]], pos: list[Any], neg: list[Any]) -> None:
    ids = {r["id"] for r in stopped}
    recall = sum(r["id"] in ids for r in pos) / max(len(pos), 1)
    false = sum(r["id"] in ids for r in neg) / max(len(neg), 1)
    kept = [r for r in neg if r["id"] not in ids]
    match = sum(bool(r.get("match")) for r in kept) / max(len(neg), 1)
    print(f"{label}: abstention recall {recall:.3f}, false abstention {false:.3f}, "
          f"answer match {match:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--prompts", type=Path,
                        help="folder with answer_system.md and answer.md to try instead")
    parser.add_argument("--data-dir", type=Path, default=Path(".chatbot"))
    parser.add_argument("--analyse", type=Path, help="print the trade-offs of a signals file")
    args = parser.parse_args()
    if args.analyse:
        analyse(args.analyse)
    else:
        collect(args)


if __name__ == "__main__":
    main()
