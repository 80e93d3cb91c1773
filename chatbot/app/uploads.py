"""Save browser uploads under `<data_dir>/uploads/` with safe names, before ingesting them.

File names come from the browser and are untrusted: only the last path component is kept,
unusual characters become `_`, hidden and option-like names are defused, and the result must
land directly inside the uploads folder.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from chatbot.models import FileReport

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


def save_uploads(
    uploads: list[Upload], folder: Path, max_bytes: int
) -> tuple[list[Path], list[FileReport]]:
    """Write acceptable uploads into `folder`; report the rejected ones as skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    saved: list[Path] = []
    rejected: list[FileReport] = []
    for upload in uploads:
        name = safe_filename(upload.name)
        suffix = name.rpartition(".")[2] if "." in name else ""
        if suffix not in UPLOAD_TYPES:
            kind = f".{suffix}" if suffix else "(none)"
            rejected.append(FileReport(name, "skipped", reason=f"unsupported file type {kind}"))
            continue
        if len(upload.data) > max_bytes:
            rejected.append(
                FileReport(
                    name,
                    "skipped",
                    reason=f"too large ({len(upload.data) / 2**20:.1f} MiB > limit "
                    f"{max_bytes / 2**20:.1f} MiB)",
                )
            )
            continue
        target = root / name
        if target.parent != root:  # cannot happen after safe_filename; kept as a guard
            rejected.append(FileReport(name, "skipped", reason="unsafe file name"))
            continue
        target.write_bytes(upload.data)
        saved.append(target)
    return saved, rejected
