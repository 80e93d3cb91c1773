"""`chatbot eval` and `chatbot bench`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.progress import TaskID

from chatbot import Chatbot, Settings
from chatbot.cli.common import ingest_progress, progress_bar, write_report
from chatbot.terminal import line, out, plain


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from chatbot.eval_report import html_report, report_table

    with progress_bar() as bar:
        tasks: list[TaskID] = []
        ingest = ingest_progress(bar)

        def progress(done: int, total: int, case: dict[str, Any]) -> None:
            if not tasks:
                tasks.append(bar.add_task("cases", total=total))
            bar.update(tasks[0], completed=done, total=total)
            mark = ("pass", "green") if case["passed"] else ("FAIL", "red")
            bar.console.print(line(mark, " ", str(case["id"])))

        report = Chatbot(settings).evaluate(
            args.suite, collection=getattr(args, "collection", None), progress=progress,
            ingest_progress=ingest,
        )
    out.print(report_table(report))
    out.print(plain(f"{report['passed']} passed, {report['failed']} failed"))
    write_report(args.json, json.dumps(report, ensure_ascii=False, indent=2))
    write_report(args.html, html_report(report))
    return 0 if report["failed"] == 0 else 1


def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from chatbot.bench import ALL_RETRIEVERS, report_tables

    with progress_bar() as bar:
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
    write_report(args.json, json.dumps(report, ensure_ascii=False, indent=2))
    return 0
