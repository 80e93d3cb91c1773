"""The one home of `[n]` citation markers: find, read, rewrite, strip and attach them.

A marker is `[n]` or `[n, m, ...]`; the spaces or tabs before it belong to it, so deleting one
never leaves a space before the punctuation that followed it. Every edit of a model's text that
concerns citations goes through here, which is what lets the citation checker promise that it
changes markers and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

#: One marker group with the blanks before it; group 1 is the comma-separated numbers.
MARKER = re.compile(r"[ \t]*\[(\d{1,6}(?:[ \t]*,[ \t]*\d{1,6})*)\]")
#: Markers (optionally in Markdown bold) and separators that open a line: "**[2]** Text".
LEADING = re.compile(r"^[ \t]*((?:\*\*)?\[\d{1,6}(?:[ \t]*,[ \t]*\d{1,6})*\](?:\*\*)?[\s:.-]*)+")
#: A sentence's final punctuation, with closing quotes or brackets after it.
_FINAL = re.compile(r"([.!?]+[\"'”’)]*)$")


def group_numbers(group: str) -> list[int]:
    """The numbers of one marker's inside, e.g. "1, 2" -> [1, 2]."""
    return [int(n) for n in re.split(r"[ \t]*,[ \t]*", group)]


def numbers(text: str) -> list[int]:
    """Every number cited in `text`, in order of appearance (repeats kept)."""
    return [n for m in MARKER.finditer(text) for n in group_numbers(m.group(1))]


def has_marker(text: str) -> bool:
    return MARKER.search(text) is not None


def strip(text: str) -> str:
    """`text` without any marker (and without the blanks that led up to each)."""
    return MARKER.sub("", text)


def render(cited: Sequence[int]) -> str:
    """The marker for `cited` as written into answers: " [1, 2]" (empty for none)."""
    return f" [{', '.join(map(str, cited))}]" if cited else ""


def rewrite(text: str, change: Callable[[list[int]], list[int]]) -> str:
    """Replace each marker's numbers by `change(numbers)`; an empty result deletes the marker,
    an unchanged one stays exactly as written."""

    def one(match: re.Match[str]) -> str:
        old = group_numbers(match.group(1))
        new = change(old)
        return match.group(0) if new == old else render(new)

    return MARKER.sub(one, text)


def attach(sentence: str, cited: Sequence[int]) -> str:
    """Put the marker for `cited` before the sentence's final punctuation (or at its end)."""
    marker = render(cited)
    match = _FINAL.search(sentence)
    head, tail = (sentence[: match.start()], match.group(1)) if match else (sentence, "")
    core = head.rstrip()  # "so ..." -> "so [1] ...": the blank before the stop stays
    return f"{core}{marker}{head[len(core) :]}{tail}"


def lead_to_end(item: str) -> str:
    """Move markers that open a line to its end: "[2] Text." -> "Text [2]." (summaries)."""
    lead = LEADING.match(item)
    if not lead:
        return item
    cited = [n for m in MARKER.finditer(lead.group(0)) for n in group_numbers(m.group(1))]
    return attach(item[lead.end() :].strip(), cited)
