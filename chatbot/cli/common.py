"""What the command modules share: the progress bar and report files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from chatbot.terminal import console, line


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


_LABELS = {
    "files": "reading files",
    "embed": "embedding chunks",
    "upgrade": "upgrading documents to the current index (titles and headings)",
}


def ingest_progress(bar: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, TaskID] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = _LABELS.get(stage, stage)
            tasks[stage] = bar.add_task(label, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return progress


def write_report(path: str | None, text: str) -> None:
    if path:
        Path(path).write_text(text, encoding="utf-8")
        console.print(line("wrote ", path))
