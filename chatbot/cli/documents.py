"""`chatbot ingest`, `chatbot sources`, `chatbot remove`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from chatbot import Chatbot, NotFoundError, Settings
from chatbot.cli.common import ingest_progress, progress_bar
from chatbot.terminal import console, error, line, out, plain


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    if args.all and args.paths:
        console.print("[red]error:[/red] give paths or --all, not both")
        return 2
    bot = Chatbot(settings)
    if not args.rebuild:  # a rebuild opens the index itself, whatever model built it
        bot.open()  # before the progress bar: a failure to open is then one clean line
    if args.if_empty and (count := bot.count()) > 0:
        with progress_bar() as bar:
            upgraded = bot.upgrade(ingest_progress(bar))
        done = f"; upgraded {upgraded} document(s) to the current index" if upgraded else ""
        console.print(f"index already holds {count} chunks; nothing to ingest{done}")
        return 0
    paths = None if args.all else [Path(p) for p in (args.paths or ["seeds"])]
    include, exclude = args.include or (), args.exclude or ()
    with progress_bar() as bar:
        progress = ingest_progress(bar)
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
