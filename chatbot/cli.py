"""`chatbot` command line: thin wrappers over the pipeline functions, one handler per command."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from chatbot import (
    Answer,
    Chatbot,
    ChatbotError,
    NotFoundError,
    Settings,
    Turn,
    load_settings,
)
from chatbot.config import RETRIEVER_MODES, get_settings
from chatbot.terminal import (
    console,
    dim,
    error,
    line,
    out,
    plain,
    print_citations,
    print_flagged,
)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


# --- models ---------------------------------------------------------------------------------
def cmd_models(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    if settings.gguf_path:
        report = bot.prepare_models()
    else:
        with _progress() as bar:
            task = bar.add_task("assemble GGUF", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done >> 20, total=total >> 20)

            report = bot.prepare_models(update)
    if args.json:
        out.print_json(data=report)
    else:
        for name, info in report.items():
            out.print(plain(name, "bold"))
            for key, value in info.items():
                out.print(plain(f"  {key}: {value}"))
    return 0


# --- ingestion --------------------------------------------------------------------------------
def _ingest_progress(bar: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, TaskID] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = "reading files" if stage == "files" else "embedding chunks"
            tasks[stage] = bar.add_task(label, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return progress


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    if args.all and args.paths:
        console.print("[red]error:[/red] give paths or --all, not both")
        return 2
    bot = Chatbot(settings)
    if not args.rebuild:  # a rebuild opens the index itself, whatever model built it
        bot.open()  # before the progress bar: a failure to open is then one clean line
    if args.if_empty and (count := bot.count()) > 0:
        console.print(f"index already holds {count} chunks; nothing to do")
        return 0
    paths = None if args.all else [Path(p) for p in (args.paths or ["seeds"])]
    include, exclude = args.include or (), args.exclude or ()
    with _progress() as bar:
        progress = _ingest_progress(bar)
        if args.rebuild:  # opens the index whatever embedding model built it
            report = bot.rebuild(paths, include=include, exclude=exclude, progress=progress)
        elif paths is None:
            report = bot.reindex(prune=args.prune, progress=progress)
        else:
            report = bot.ingest(
                paths, prune=args.prune, include=include, exclude=exclude, progress=progress
            )
    if args.json:
        out.print_json(data=report.to_json())
    else:
        for item in report.files:
            if item.status == "skipped":
                console.print(line(("skipped", "yellow"), " ", item.source, ": ", item.reason))
            elif item.status != "unchanged":
                console.print(line(f"{item.status} ", item.source, f" ({item.chunks} chunks)"))
        console.print(plain(report.summary()))
    ingested = report.count("added") + report.count("updated") + report.count("unchanged")
    if not ingested and not report.count("removed"):
        error("nothing could be ingested")
        return 1
    return 0


def cmd_sources(settings: Settings, args: argparse.Namespace) -> int:
    rows = Chatbot(settings).sources()
    if args.json:
        listing = [row.to_json() for row in rows]
        out.print(json.dumps(listing, ensure_ascii=False, indent=2), markup=False)
        return 0
    table = Table("source", "chunks", "characters", "indexed at")
    table.columns[0].overflow = "fold"
    for row in rows:
        table.add_row(plain(row.source), str(row.chunks), str(row.characters), row.indexed_time())
    out.print(table)
    return 0


def cmd_remove(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    status = 0
    for source in args.sources:
        try:
            deleted = bot.remove(source)
        except NotFoundError as exc:
            error(str(exc))
            status = 1
            continue
        console.print(line("removed ", source, f" ({deleted} chunks)"))
    return status


# --- answers ----------------------------------------------------------------------------------
def _print_citations(answer: Answer) -> None:
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


# --- summaries --------------------------------------------------------------------------------
def cmd_summarize(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    with _progress() as bar:
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
    t, u = summary.timings, summary.usage
    dim(
        f"{summary.model} · {summary.chunks_read} chunks read from "
        f"{len(summary.sources)} source(s) in {summary.map_batches} batch(es) · "
        f"{u['prompt_tokens']}+{u['completion_tokens']} tokens · total {t['total_s']:.2f} s"
    )
    return 0


def cmd_ui(settings: Settings, args: argparse.Namespace) -> int:
    app = Path(__file__).parent / "app" / "main.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(args.port), "--server.address", args.host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]
    console.print(plain(f"chatbot UI on http://{args.host}:{args.port}"))
    return subprocess.call(command)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from chatbot.server import serve

    host = args.host or settings.serve_host
    port = args.port or settings.serve_port
    bot = Chatbot(settings)
    url = f"http://{host}:{port}/v1"
    console.print(plain(f"chatbot API on {url} (model id: {settings.collection})"))
    serve(bot, host, port)
    return 0


# --- evaluation -------------------------------------------------------------------------------
def _write_report(path: str | None, text: str) -> None:
    if path:
        Path(path).write_text(text, encoding="utf-8")
        console.print(line("wrote ", path))


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from chatbot.evaluate import html_report, report_table

    with _progress() as bar:
        tasks: list[TaskID] = []
        ingest = _ingest_progress(bar)

        def progress(done: int, total: int, case: dict[str, Any]) -> None:
            if not tasks:
                tasks.append(bar.add_task("cases", total=total))
            bar.update(tasks[0], completed=done, total=total)
            mark = ("pass", "green") if case["passed"] else ("FAIL", "red")
            bar.console.print(line(mark, " ", str(case["id"])))

        report = Chatbot(settings).evaluate(
            args.suite, collection=args.collection, progress=progress, ingest_progress=ingest
        )
    out.print(report_table(report))
    out.print(plain(f"{report['passed']} passed, {report['failed']} failed"))
    _write_report(args.json, json.dumps(report, ensure_ascii=False, indent=2))
    _write_report(args.html, html_report(report))
    return 0 if report["failed"] == 0 else 1


def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from chatbot.bench import ALL_RETRIEVERS, report_tables

    with _progress() as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = Chatbot(settings).bench(
            args.corpus, args.questions,
            retrievers=ALL_RETRIEVERS if args.retriever == "all" else [args.retriever],
            k=args.k, answers=args.answers, baseline=not args.no_baseline, limit=args.limit,
            progress=progress,
        )
    for table in report_tables(report):
        out.print(table)
    _write_report(args.json, json.dumps(report, ensure_ascii=False, indent=2))
    return 0


# --- doctor ---------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    """Builds the settings itself: invalid settings are one of the things it reports."""
    from chatbot.doctor import healthy, run_doctor

    checks = run_doctor(get_settings)
    if args.json:
        print(json.dumps({"healthy": healthy(checks), "checks": [c.to_json() for c in checks]}))
    else:
        labels = {"ok": ("ok  ", "green"), "note": ("note", "yellow"), "fail": ("FAIL", "red")}
        for check in checks:
            fix = ("", " — fix: ", plain(check.fix)) if check.fix else ("",)
            out.print(
                line(labels[check.status], " ", plain(check.name), ": ", plain(check.detail), *fix)
            )
        verdict = "ready for `make chat`" if healthy(checks) else "not ready: fix the FAIL lines"
        out.print(verdict, markup=False)
    return 0 if healthy(checks) else 1


# --- wiring -----------------------------------------------------------------------------------
def _add_retrieval_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=int, help="passages to retrieve (default: CHATBOT_K)")
    p.add_argument(
        "--source", action="append", metavar="NAME",
        help="search only this indexed source or folder (repeatable; see `chatbot sources`)",
    )
    p.add_argument(
        "--retriever", choices=RETRIEVER_MODES, help="retrieval mode (default: CHATBOT_RETRIEVER)"
    )
    p.add_argument(
        "--mmr", action=argparse.BooleanOptionalAction, default=None,
        help="diversify passages by maximal marginal relevance (default: CHATBOT_MMR)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatbot", description="Cited answers from your own documents."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="prepare the embedded models and report them")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("ingest", help="add or update files and folders in the index")
    p.add_argument("paths", nargs="*", help="files or folders (default: seeds/)")
    p.add_argument(
        "--all", action="store_true",
        help="read every indexed source again from its file (works from any directory)",
    )
    p.add_argument("--prune", action="store_true", help="remove sources whose files are gone")
    p.add_argument("--include", action="append", help="glob of files to take (repeatable)")
    p.add_argument("--exclude", action="append", help="glob of files to leave out (repeatable)")
    p.add_argument(
        "--rebuild", action="store_true",
        help="build a new index from these paths (or --all) and switch to it when complete",
    )
    p.add_argument("--if-empty", action="store_true", help="only ingest into an empty index")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("sources", help="list indexed sources")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_sources)

    p = sub.add_parser("remove", help="delete indexed sources")
    p.add_argument("sources", nargs="+", help="source names as listed by `chatbot sources`")
    p.set_defaults(handler=cmd_remove)

    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_retrieval_flags(p)
    p.set_defaults(handler=cmd_ask)

    p = sub.add_parser("chat", help="interactive chat in the terminal")
    _add_retrieval_flags(p)
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("summarize", help="summarize whole documents with citations")
    p.add_argument("sources", nargs="*", help="indexed sources or folders (default: all)")
    p.add_argument("--bullets", type=int, default=5, help="number of bullets (default: 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_summarize)

    p = sub.add_parser("eval", help="run an evaluation suite (YAML cases with assertions)")
    p.add_argument(
        "suite", nargs="?", help="suite file (default: the bundled suite on the seed article)"
    )
    p.add_argument("--json", metavar="OUT", help="write the JSON report here")
    p.add_argument("--html", metavar="OUT", help="write the HTML report here")
    p.add_argument("--collection", help="use this existing collection instead of a throwaway one")
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("bench", help="retrieval and answer metrics on corpus/questions JSONL")
    p.add_argument("--corpus", required=True, help="corpus.jsonl: {id, title, text} rows")
    p.add_argument("--questions", required=True, help="questions.jsonl rows")
    p.add_argument(
        "--retriever", default="all", choices=["hybrid", "dense", "bm25", "hybrid_rrf", "all"]
    )
    p.add_argument("--k", type=int, default=10, help="distinct passages ranked (default: 10)")
    p.add_argument("--answers", type=int, default=0, help="answer the first N questions")
    p.add_argument("--limit", type=int, help="retrieval on the first N questions only")
    p.add_argument("--no-baseline", action="store_true", help="skip the quick-start baseline")
    p.add_argument("--json", metavar="OUT", help="write the JSON report here")
    p.set_defaults(handler=cmd_bench)

    p = sub.add_parser("doctor", help="check what works on this machine, each problem with its fix")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("serve", help="serve an OpenAI-compatible HTTP API with citations")
    p.add_argument("--host", help="address to listen on (default: CHATBOT_SERVE_HOST)")
    p.add_argument("--port", type=int, help="port (default: CHATBOT_SERVE_PORT)")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("ui", help="start the Streamlit app")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(handler=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "doctor":
            return cmd_doctor(args)  # builds the settings itself, to report them
        settings = load_settings()
        return int(args.handler(settings, args))
    except ChatbotError as exc:
        error(str(exc))
        return 2
    except ImportError as exc:  # a third-party package missing or broken: an install problem
        if (exc.name or "").partition(".")[0] == "chatbot":
            raise  # our own module failing to import is a bug: keep the traceback
        error(missing_dependency(exc))
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


def missing_dependency(exc: ImportError) -> str:
    """One line naming what is missing and the fix."""
    from chatbot.loaders import REINSTALL

    if isinstance(exc, ChatbotError):  # MissingDependencyError: already one line with the fix
        return str(exc)
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"missing dependency {exc.name} ({detail}); {REINSTALL}"
    return f"broken dependency ({detail}); {REINSTALL}"


if __name__ == "__main__":
    raise SystemExit(main())
