"""What every loader returns and what reading one file may cost.

`LoadedDocument` carries text normalised once by `normalize` (every chunk offset points into
it); `LoadLimits` bounds a file and `SkipFile` is the one-line reason it is left out. Apart from
`loaders`, which picks and runs the format readers, so both sides of that contract read alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chatbot.ocr import OcrLimits


class SkipFile(Exception):
    """A user file that cannot be ingested; the message is the one-line reason."""



@dataclass(frozen=True)
class LoadLimits:
    """How much one file may cost; each bound is a setting (see `from_settings`)."""

    max_bytes: int = 50 * 2**20
    max_chars: int = 10_000_000
    max_pages: int = 2_000
    max_paragraphs: int = 100_000
    seconds: float = 120.0
    ocr: OcrLimits = field(default_factory=OcrLimits)

    @classmethod
    def from_settings(cls, settings: Any) -> LoadLimits:
        return cls(
            max_bytes=int(settings.max_file_mb * 2**20),
            max_chars=settings.max_file_chars,
            max_pages=settings.max_file_pages,
            max_paragraphs=settings.max_file_paragraphs,
            seconds=settings.load_timeout,
            ocr=OcrLimits.from_settings(settings),
        )

    def check_chars(self, count: int) -> None:
        if count > self.max_chars:
            raise SkipFile(
                f"more than {self.max_chars:,} characters of text (CHATBOT_MAX_FILE_CHARS)"
            )


@dataclass
class LoadedDocument:
    text: str
    #: Markdown structure (`#` headings) is meaningful: headings start new chunks.
    markdown: bool = False
    #: Offsets where each page begins (PDFs); empty for formats without pages.
    page_starts: list[int] = field(default_factory=list)
    #: Pages (1-based) whose text came from OCR, and what the ingest report should mention.
    ocr_pages: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: `(start, end)` of each table's lines (see `chatbot.tables`): the splitter keeps rows whole.
    tables: list[tuple[int, int]] = field(default_factory=list)
    #: The title in the file's metadata (HTML <title>, DOCX and PDF properties); None when it
    #: has none (chatbot/headings.py then takes the first heading or the file name).
    title: str | None = None


_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_DROPPED = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u00ad\u200b\u2060\ufeff]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize(text: str) -> str:
    """NFC, unified newlines, no control characters, collapsed spaces and blank lines."""
    text = unicodedata.normalize("NFC", text)
    text = _DROPPED.sub("", _LINE_BREAKS.sub("\n", text))
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
