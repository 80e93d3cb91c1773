"""File -> normalised document text (plus page starts), or a one-line reason to skip it.

The normalised text is what gets stored and what every chunk offset points into, so
normalisation happens exactly once, here, before splitting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}


class SkipFile(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A user file that cannot be ingested; the message is the one-line reason."""


@dataclass
class LoadedDocument:
    text: str
    markdown: bool = False
    #: Offsets where each page begins (PDFs); empty for formats without pages.
    page_starts: list[int] = field(default_factory=list)


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """NFC, unified newlines, collapsed spaces and blank lines, trimmed lines."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\x00", "").replace("\ufeff", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def join_pages(pages: Sequence[str]) -> LoadedDocument:
    """Normalise each page and join them with blank lines, remembering where each starts."""
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        body = normalize(page)
        parts.append(body)
        offset += len(body) + 2
    return LoadedDocument("\n\n".join(parts), page_starts=starts)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not valid UTF-8 (byte {exc.start}); convert it to UTF-8") from None


def load_text(path: Path) -> LoadedDocument:
    text = normalize(_decode(path.read_bytes()))
    return LoadedDocument(text, markdown=path.suffix.lower() in {".md", ".markdown"})


Loader = Callable[[Path], LoadedDocument]

LOADERS: dict[str, Loader] = {suffix: load_text for suffix in TEXT_SUFFIXES}


def load(path: Path, max_bytes: int) -> LoadedDocument:
    """Load one file or raise SkipFile with the reason."""
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise SkipFile(f"unsupported file type {suffix or '(none)'}")
    size = path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    if size > max_bytes:
        raise SkipFile(f"too large ({size / 2**20:.1f} MiB > limit {max_bytes / 2**20:.1f} MiB)")
    document = loader(path)
    if not document.text.strip():
        raise SkipFile("no text could be extracted")
    return document


def discover(
    paths: Iterable[Path], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Path]:
    """Files under the given paths (folders recursively), filtered by glob patterns."""
    found: list[Path] = []
    for root in paths:
        candidates = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in candidates:
            if any(part.startswith(".") for part in path.parts[len(root.parts) :]):
                continue
            name = path.as_posix()
            if include and not any(fnmatch(name, pat) or fnmatch(path.name, pat) for pat in include):
                continue
            if any(fnmatch(name, pat) or fnmatch(path.name, pat) for pat in exclude):
                continue
            found.append(path)
    return found
