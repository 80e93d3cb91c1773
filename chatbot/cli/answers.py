"""`chatbot ask`, `chatbot chat`, `chatbot summarize`: answers printed as they stream."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

from rich.progress import TaskID

from chatbot import Answer, Chatbot, ChatbotError, Settings, Turn
from chatbot.cli.common import progress_bar
from chatbot.terminal import console, dim, error, out, plain, print_citations, print_flagged


def _print_guard_notes(notes: list[str]) -> None:
    """What the injection guard removed or withheld: always printed, never dropped silently."""
    from chatbot import guard

    print_flagged("guard:", guard.shown_notes(notes))


def _print_citations(answer: Answer) -> None:
    _print_guard_notes(answer.notes)
    if answer.abstained:
        return
    out.print()
    print_citations(answer.citations)
    print_flagged("unsupported:", [s.text for s in answer.sentences if not s.supported])


def _retrieval_options(args: argparse.Namespace) -> dict[str, Any]:
    """The per-question retrieval flags of `ask` and `chat` (None = the setting)."""
    return {"k": args.k, "sources": args.source, "mode": args.retriever, "mmr": args.mmr}


def _stream_to_terminal(items: Iterator[str | Answer]) -> Answer:
    """Print the tokens as they come, then the citations and a timing line."""
    final = None
    streamed = False
    try:
        for item in items:
            if isinstance(item, Answer):
                final = item
            else:
                streamed = True
                out.print(plain(item, lines=True), end="")
    finally:  # end the (maybe half-streamed) line before any error message
        if streamed or final is not None:
            out.print()
    assert final is not None
    _print_citations(final)
    t = final.timings
    dim(
        f"{final.model} · {final.usage['prompt_tokens']}+{final.usage['completion_tokens']}"
        f" tokens · first token {t['first_token_s'] or 0:.2f} s · total {t['total_s']:.2f} s"
    )
    return final


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    if bot.count() == 0:
        error("the index is empty; run `chatbot ingest PATH` first")
        return 1
    if args.json:  # stdout is the JSON object; retries are reported on stderr
        answer = bot.ask(args.question, status=dim, **_retrieval_options(args))
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    _stream_to_terminal(bot.stream(args.question, status=dim, **_retrieval_options(args)))
    return 0


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    bot.start_warm_up()  # the model starts while the user types
    history: list[Turn] = []
    console.print("Ask about your documents. Empty line or Ctrl-D to quit; /new starts over.")
    while True:
        try:
            question = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        if question == "/new":
            history.clear()
            continue
        try:
            final = _stream_to_terminal(
                bot.reply(question, history, status=dim, **_retrieval_options(args))
            )
        except ChatbotError as exc:
            error(str(exc))
            continue
        if final.standalone_question:
            dim(f"(searched for: {final.standalone_question})")
        history.append(Turn(question, final.answer))
    return 0


def cmd_summarize(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    with progress_bar() as bar:
        tasks: list[TaskID] = []

        def progress(done: int, total: int) -> None:
            if not tasks:
                tasks.append(bar.add_task("summarizing (map batches)", total=total))
            bar.update(tasks[0], completed=done, total=total)

        summary = bot.summarize(args.sources or None, args.bullets, progress)
    if args.json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))
        return 0
    for bullet in summary.bullets:
        out.print(plain(f"- {bullet.text}", lines=True))
    out.print()
    print_citations(summary.citations)
    print_flagged("dropped (no valid citation):", [b.text for b in summary.dropped_bullets])
    _print_guard_notes(summary.notes)
    t, u = summary.timings, summary.usage
    dim(
        f"{summary.model} · {summary.chunks_read} chunks read from "
        f"{len(summary.sources)} source(s) in {summary.map_batches} batch(es) · "
        f"{u['prompt_tokens']}+{u['completion_tokens']} tokens · total {t['total_s']:.2f} s"
    )
    return 0
