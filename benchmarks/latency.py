"""Answer latency of the embedded model on the seed article: time to first token and total.

    .venv/bin/python benchmarks/latency.py [--questions 20] [--warm-start] [--json OUT]

Ingests seeds/ into a temporary data dir with the local embeddings, starts the local model once
(its load time is reported separately), warms it with one question, then asks the `ask` cases
of the bundled seed.yaml suite (plus a few more, up to --questions) and reports the median and
p90 of time to first token and total time, the first question's own time to first token,
prompt/completion tokens, and this process's peak RSS (the llama.cpp server runs in-process,
so that is the whole footprint). With --warm-start the warm-up question is replaced by what the
app and `chatbot chat` do at start (`chatbot.warm_start.warm_up`: load the model, send the
system prompt), so the first question is the first question of a freshly started app.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from chatbot.answer import ask
from chatbot.config import Settings
from chatbot.pipeline import Pipeline
from chatbot.prompts import DEFAULT_SUITE

ROOT = Path(__file__).resolve().parent.parent
EXTRA = [
    "Who announced the planned meeting between Xi and Putin?",
    "What did Xi call Kazakhstan and China in his article?",
    "What are the four areas of focus Xi outlines?",
    "What happened in Kazakhstan in January 2022?",
    "What did the BRI used to be called in English?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--warm-start", action="store_true",
                        help="warm up as the app does (model + system prompt), not with a question")
    args = parser.parse_args()

    suite = yaml.safe_load(DEFAULT_SUITE.read_text(encoding="utf-8"))
    questions = [c["question"] for c in suite["cases"] if c.get("task", "ask") == "ask"]
    questions = (questions + EXTRA)[: args.questions]

    work = Path(tempfile.mkdtemp(prefix="chatbot-latency-"))
    shutil.copytree(ROOT / "seeds", work / "seeds")
    settings = Settings(
        llm_provider="local", embeddings_provider="local", data_dir=work / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    # Reuse an already assembled model when there is one (the repo's own data dir).
    cached = ROOT / ".chatbot" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if cached.is_file():
        (work / "data" / "models").mkdir(parents=True)
        for file in cached.parent.iterdir():
            (work / "data" / "models" / file.name).symlink_to(file)
    import os

    os.chdir(work)
    pipeline = Pipeline.build(settings)
    pipeline.index.ingest([Path("seeds")])
    started = time.perf_counter()
    _ = pipeline.chat
    load_s = time.perf_counter() - started
    if args.warm_start:
        from chatbot.warm_start import warm_up

        warm_up(pipeline)
    else:
        ask(pipeline, "Warm-up: who is Xi Jinping?")
    warm_s = time.perf_counter() - started

    rows = []
    for question in questions:
        answer = ask(pipeline, question)
        rows.append(
            {
                "question": question,
                "abstained": answer.abstained,
                "first_token_s": answer.timings["first_token_s"],
                "total_s": answer.timings["total_s"],
                "prompt_tokens": answer.usage["prompt_tokens"],
                "completion_tokens": answer.usage["completion_tokens"],
                "answer": answer.answer,
            }
        )
        print(f"{answer.timings['first_token_s'] or 0:6.2f} {answer.timings['total_s']:6.2f}  "
              f"{answer.usage['prompt_tokens']:4d} {question}", flush=True)
    asked = [r for r in rows if r["first_token_s"] is not None]
    ttft = [float(r["first_token_s"]) for r in asked]  # type: ignore[arg-type]
    total = [float(r["total_s"]) for r in asked]  # type: ignore[arg-type]
    report = {
        "questions": len(rows),
        "answered_by_model": len(asked),
        "abstained_without_model": len(rows) - len(asked),
        "model_load_s": round(load_s, 2),
        "warm_up": "warm start (model + system prompt)" if args.warm_start else "one question",
        "warm_up_s": round(warm_s, 2),
        "first_question_ttft_s": rows[0]["first_token_s"],
        "ttft_median_s": round(statistics.median(ttft), 2),
        "ttft_p90_s": round(percentile(ttft, 0.9), 2),
        "total_median_s": round(statistics.median(total), 2),
        "total_p90_s": round(percentile(total, 0.9), 2),
        "prompt_tokens_median": statistics.median(int(r["prompt_tokens"]) for r in asked),  # type: ignore[call-overload]
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "settings": {"k": settings.k, "passage_chars": settings.passage_chars,
                     "llm_context": settings.llm_context, "retriever": settings.retriever},
        "rows": rows,
    }
    summary = {k: v for k, v in report.items() if k != "rows"}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
