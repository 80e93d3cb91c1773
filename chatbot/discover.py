"""Which files an ingestion takes, and what each is called.

Folders are walked recursively (hidden entries left out), each file once, filtered by glob
patterns. A source is named `<folder name>/<path inside it>`, a file given on its own
`<its folder name>/<file name>`: names never depend on the working directory. A link inside a
folder that leads out of it is not followed: it is reported as skipped, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from chatbot.models import FileReport, IngestReport


@dataclass(frozen=True)
class Found:
    """A file to ingest: where it was found, what it really is, and what to call it."""

    path: Path  # as found (perhaps a link)
    real: Path  # resolved
    root: Path  # resolved folder (or file) it was ingested from
    name: str  # wanted source name


def name_for(root: Path, real: Path) -> str:
    """`<root folder name>/<path inside it>`, or `<folder name>/<file name>` for a file root."""
    if root == real:
        return f"{real.parent.name}/{real.name}" if real.parent.name else real.name
    inside = real.relative_to(root).as_posix()
    return f"{root.name}/{inside}" if root.name else inside


def _matches(path: Path, patterns: Sequence[str]) -> bool:
    name = path.as_posix()
    return any(fnmatch(name, pat) or fnmatch(path.name, pat) for pat in patterns)


def within(path: Path | str, only: Collection[Path]) -> bool:
    """`path` is one of `only` or under one of them (absolute paths, compared as text: this
    runs for every file of a watched folder on every batch)."""
    text = str(path)
    return any(text == str(o) or text.startswith(os.path.join(o, "")) for o in only)


def _changed(given: Path, root: Path, only: Collection[Path]) -> list[Path]:
    """What a walk of `given` would find at or under the `only` paths, without walking the
    rest of the folder (a watched folder may hold far more files than a batch changes)."""
    paths: set[Path] = set()
    for changed in only:
        if changed != root and root not in changed.parents:
            continue
        path = given / changed.relative_to(root)
        if path.is_dir() and not path.is_symlink():
            paths.update(path.rglob("*"))
        elif os.path.lexists(path):
            paths.add(path)
    return sorted(paths)


def discover(
    paths: Iterable[Path],
    include: Sequence[str],
    exclude: Sequence[str],
    report: IngestReport,
    only: Collection[Path] | None = None,
) -> list[Found]:
    """Files under the given paths (folders recursively, hidden entries left out), each once,
    filtered by glob patterns matched against the full path or the file name. Links that lead
    out of their folder are reported as skipped. `only` (absolute paths under the resolved
    folders) keeps just the files at or under them, named as in a walk of the whole folder:
    how a watched folder ingests what changed."""
    found: list[Found] = []
    seen: set[Path] = set()
    for given in paths:
        if not given.exists():
            report.files.append(FileReport(given.as_posix(), "skipped", reason="not found"))
            continue
        root = given.resolve()
        if not given.is_dir():
            candidates = [given] if only is None or within(root, only) else []
        elif only is not None:
            candidates = _changed(given, root, only)
        else:
            candidates = sorted(given.rglob("*"))
        for path in candidates:
            if any(part.startswith(".") for part in path.parts[len(given.parts) :]):
                continue
            real = path.resolve()
            outside = given.is_dir() and root not in real.parents
            if path.is_dir() and not (path.is_symlink() and outside):
                continue
            if (include and not _matches(path, include)) or _matches(path, exclude):
                continue
            if outside:
                name = f"{root.name}/{path.relative_to(given).as_posix()}"
                reason = f"a link to {real}, outside {given}: only files inside it are indexed"
                report.files.append(FileReport(name, "skipped", reason=reason))
                continue
            if real not in seen and (real.is_file() or not real.exists()):
                seen.add(real)
                found.append(Found(path, real, root, name_for(root, real)))
    return found
