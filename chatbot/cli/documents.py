"""`chatbot ingest` (and `--watch`), `chatbot sources`, `chatbot remove`."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from chatbot import Chatbot, FileReport, NotFoundError, Settings
from chatbot.cli.common import ingest_progress, progress_bar
from chatbot.terminal import console, error, line, out, plain

if TYPE_CHECKING:
    from chatbot.watch import WatchBatch


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    if args.all and args.paths:
        console.print("[red]error:[/red] give paths or --all, not both")
        return 2
    if args.watch and (args.all or args.rebuild or args.if_empty):
        console.print("[red]error:[/red] --watch takes paths, not --all, --rebuild or --if-empty")
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
            report = bot.ingest(  # --watch keeps the index in step: deleted files go too
                paths, prune=args.prune or args.watch, include=include, exclude=exclude,
                progress=progress,
            )
    if args.json:
        out.print_json(data=report.to_json())
    else:
        _print_files(report.files)
        console.print(plain(report.summary()))
    if args.watch and paths is not None:
        return _watch(bot, paths, include, exclude, as_json=args.json)
    ingested = report.count("added") + report.count("updated") + report.count("unchanged")
    if not ingested and not report.count("removed"):
        error("nothing could be ingested")
        return 1
    return 0


def _print_files(files: Sequence[FileReport]) -> None:
    for item in files:
        if item.status == "skipped":
            console.print(line(("skipped", "yellow"), " ", item.source, ": ", item.reason))
        elif item.status != "unchanged":
            console.print(line(f"{item.status} ", item.source, f" ({item.chunks} chunks)"))
        for note in item.notes:
            console.print(line(("  note", "yellow"), " ", item.source, ": ", note))


def _watch(
    bot: Chatbot, paths: Sequence[Path], include: Sequence[str], exclude: Sequence[str],
    *, as_json: bool,
) -> int:
    """One line per file and one per batch until Ctrl-C (exit 0 while waiting; during a batch
    the interrupt reaches `main`: 130, like any command)."""
    watched = ", ".join(p.as_posix() for p in paths)
    for number, batch in enumerate(bot.watch(paths, include=include, exclude=exclude)):
        if batch.changed:
            _print_batch(batch, as_json=as_json)
        if number == 0:  # the catch-up is done and the OS watcher runs
            console.print(line("watching ", watched, " for changes (Ctrl-C to stop)"))
    console.print("stopped watching")
    return 0


def _print_batch(batch: WatchBatch, *, as_json: bool) -> None:
    if as_json:
        out.print(json.dumps(batch.to_json(), ensure_ascii=False), markup=False)
        return
    for old, new in batch.moved:
        console.print(line("moved ", old, " -> ", new))
    _print_files(batch.files)
    label = "error" if batch.error else "batch"
    console.print(line((time.strftime("%H:%M:%S"), "dim"), " ", (label, "bold"), ": ",
                       batch.summary()))


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
