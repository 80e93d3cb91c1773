"""Save browser uploads under `<data_dir>/uploads/` with safe names, and index them.

File names come from the browser and are untrusted: only the last path component is kept,
unusual characters become `_`, hidden and option-like names are defused, and the result must
land directly inside the uploads folder. An upload never destroys a file the user had: see
`ingest_uploads`.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from chatbot.discover import name_for
from chatbot.loaders import LoadLimits, SkipFile, load
from chatbot.models import FileReport, IngestReport

ProgressFn = Callable[[str, int, int], None]

#: What the upload widget accepts (the loaders decide what can actually be read).
UPLOAD_TYPES = ("txt", "md", "html", "htm", "pdf", "docx")
_UNSAFE = re.compile(r"[^\w.\-]+")
_DOTS = re.compile(r"\.{2,}")
MAX_STEM = 100


def safe_filename(name: str) -> str:
    """A file name that is safe to create in one folder, keeping the (lower-cased) suffix."""
    name = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _DOTS.sub(".", _UNSAFE.sub("_", name.strip()))
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem.strip("._-")[:MAX_STEM] or "upload"
    suffix = suffix.strip("._-").lower()
    return f"{stem}.{suffix}" if suffix else stem


@dataclass
class Upload:
    name: str
    data: bytes


class Ingester(Protocol):
    """What uploads need of the index (`Index.ingest`)."""

    def ingest(self, paths: Sequence[Path], *, progress: ProgressFn) -> IngestReport: ...


def _name(path: Path) -> str:
    """The source name an upload gets (`uploads/<file name>`, see chatbot/discover.py)."""
    return name_for(path.resolve(), path.resolve())


def _distinct(name: str, taken: set[str]) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext`… when this batch already has it (any case)."""
    stem, dot, suffix = name.rpartition(".")
    stem, dot = (stem, dot) if dot else (name, "")
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}-{n}{dot}{suffix}"
    taken.add(candidate.lower())
    return candidate


def _refusal(upload: Upload, name: str, max_bytes: int) -> str | None:
    suffix = name.rpartition(".")[2] if "." in name else ""
    if suffix not in UPLOAD_TYPES:
        return f"unsupported file type {f'.{suffix}' if suffix else '(none)'}"
    if len(upload.data) > max_bytes:
        return (
            f"too large ({len(upload.data) / 2**20:.1f} MiB > limit {max_bytes / 2**20:.1f} MiB)"
        )
    return None


@dataclass
class _Staged:
    target: Path
    staged: Path
    backup: Path | None = None


def _stage(
    uploads: list[Upload], root: Path, staging: Path, limits: LoadLimits
) -> tuple[list[_Staged], list[FileReport]]:
    """Write each acceptable upload beside (not over) its target and check that it loads."""
    staged: list[_Staged] = []
    rejected: list[FileReport] = []
    taken: set[str] = set()
    for number, upload in enumerate(uploads):
        name = _distinct(safe_filename(upload.name), taken)
        problem = _refusal(upload, name, limits.max_bytes)
        target = root / name
        if problem is None and target.parent != root:  # cannot happen after safe_filename
            problem = "unsafe file name"
        if problem is None:
            path = staging / str(number) / name
            path.parent.mkdir()
            path.write_bytes(upload.data)
            try:
                load(path, limits)
            except SkipFile as exc:
                problem = str(exc)
            else:
                staged.append(_Staged(target, path))
                continue
        kept = "; the existing file of that name was kept" if target.is_file() else ""
        rejected.append(FileReport(_name(target), "skipped", reason=f"{problem}{kept}"))
    return staged, rejected


def _put_in_place(items: list[_Staged], staging: Path) -> None:
    for n, item in enumerate(items):
        if item.target.exists():
            item.backup = staging / f"previous-{n}"
            os.replace(item.target, item.backup)
        os.replace(item.staged, item.target)


def _undo(item: _Staged) -> None:
    """Put the previous file back (same bytes, same mtime: still "unchanged" for the index),
    or remove a new file that could not be indexed."""
    if item.backup is not None:
        os.replace(item.backup, item.target)
    else:
        item.target.unlink(missing_ok=True)


def ingest_uploads(
    index: Ingester,
    uploads: list[Upload],
    folder: Path,
    limits: LoadLimits,
    progress: ProgressFn,
) -> IngestReport:
    """Save uploads into `folder` and index them, as one step that never loses a file.

    Names that collide in a batch get `-2`, `-3` suffixes; a new file is written beside its
    target and must load before it replaces an earlier upload of the same name; an upload the
    ingest still skips is taken out again and the previous file (which the index still holds)
    put back, so a later re-index with pruning cannot drop the document.
    """
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    with tempfile.TemporaryDirectory(prefix=".upload-", dir=root.parent) as tmp:
        staging = Path(tmp)
        staged, rejected = _stage(uploads, root, staging, limits)
        _put_in_place(staged, staging)
        try:
            report = index.ingest([s.target for s in staged], progress=progress)
        except BaseException:
            for item in staged:
                _undo(item)
            raise
        skipped = {f.source for f in report.files if f.status == "skipped"}
        for item in staged:
            if _name(item.target) in skipped:
                _undo(item)
    report.files[:0] = rejected
    return report
