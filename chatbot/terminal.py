"""What the CLI prints, built so that no document, file name, model reply or error text can act
as Rich markup or as a terminal control sequence.

Every untrusted string goes into a `rich.text.Text` (never parsed for markup) after `shown()`
has escaped control characters; the few styled labels are added around it. Rich markup strings
are only ever written here, with fixed content.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.text import Text

console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

#: C0/C1 controls, DEL, and the bidirectional overrides that can disguise a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_NO_LINES = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object, *, lines: bool = False) -> str:
    """`text` with terminal control characters written as escapes (`\\x1b`, `\\u202e`);
    `lines=True` keeps line breaks and tabs (model replies, passages)."""
    return (_CONTROL_NO_LINES if lines else _CONTROL).sub(_escaped, str(text))


def plain(text: object, style: str = "", *, lines: bool = False) -> Text:
    """Untrusted text as a Rich `Text`: printed literally, never read as markup."""
    return Text(shown(text, lines=lines), style=style)


def line(*parts: str | Text | tuple[str, str]) -> Text:
    """One output line from fixed labels (`("error:", "red")`) and `plain()` pieces; a bare
    str is treated as untrusted too."""
    pieces = [plain(p) if isinstance(p, str) else p for p in parts]
    return Text.assemble(*pieces)


def error(message: object) -> None:
    """The one way errors reach the terminal: `error: <message>`, literally."""
    console.print(line(("error:", "red"), " ", plain(message)))


def print_citations(citations: Any) -> None:
    """Numbered passages under an answer or a summary: source, page, offsets, the text."""
    for c in citations:
        where = f", page {c.page}" if c.page else ""
        where += " (OCR)" if c.ocr else ""
        span = f"{where} (chars {c.start}-{c.end})"
        out.print(line((f"[{c.n}]", "bold"), " ", plain(c.source), span))
        out.print(plain(f"    {c.text}", "dim", lines=True))


def print_flagged(label: str, texts: Any) -> None:
    """Sentences or bullets flagged by the citation check, after a yellow label."""
    for text in texts:
        out.print(line((label, "yellow"), " ", plain(text, lines=True)))


def dim(text: object) -> None:
    """A status line (timings, what was searched for) on stderr, dimmed."""
    console.print(plain(text, "dim", lines=True))
