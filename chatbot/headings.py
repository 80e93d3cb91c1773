"""Document titles and heading paths: the context a chunk's own text lacks.

With `CHATBOT_HEADINGS_IN_INDEX` on, a chunk is embedded and keyword-indexed with one line such
as "Annual report > Results > Europe" in front of its text (`Chunk.indexed_text`), so a question
naming the document or the section finds passages that never repeat that name. The chunk's text
and offsets, which citations quote, stay exactly `document[start:end]`: the line is never part
of what is cited or shown.

The title comes from the file's own metadata where the format has it (HTML <title>, DOCX core
properties, PDF document info), else from the first `#` heading of a Markdown-structured text
(Markdown, HTML and DOCX reach the splitter as Markdown), else, for a PDF, from the file name
(a plain text file has no title: two copies of one text stay alike). The heading
path of a chunk is the nearest preceding heading of each level at its start, each above the
next (a heading closes every deeper one).
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chatbot.models import Chunk

#: A Markdown heading line (the splitter's definition, chatbot/splitting.py), with its level.
_HEADING = re.compile(r"^(#{1,6})[ \t](.*)$", re.M)
_CLOSING = re.compile(r"[ \t]+#+[ \t]*$")
_WS = re.compile(r"\s+")
_NAME_SEPARATORS = re.compile(r"[\s_\-.]+")
#: Longest part of a context line, and the longest context line: the embedding model reads a
#: limited number of tokens, and a hostile heading must not push the chunk's text out of it.
PART_CHARS = 80
CONTEXT_CHARS = 240
SEPARATOR = " > "


@dataclass(frozen=True)
class Heading:
    start: int  # offset of the heading line in the document text
    level: int  # 1 for "#", 6 for "######"
    text: str


@dataclass(frozen=True)
class Outline:
    """What a document contributes to its chunks' context: its title and its headings."""

    title: str = ""
    headings: tuple[Heading, ...] = ()


def clean(text: str) -> str:
    """One line of at most PART_CHARS characters (headings and titles are untrusted text)."""
    line = _WS.sub(" ", text).strip()
    return line if len(line) <= PART_CHARS else line[: PART_CHARS - 1].rstrip() + "…"


def headings(text: str) -> list[Heading]:
    """The Markdown heading lines of a text, in order (closing `#`s dropped)."""
    found = []
    for match in _HEADING.finditer(text):
        found.append(Heading(match.start(), len(match[1]), clean(_CLOSING.sub("", match[2]))))
    return found


def title_from_name(path: str | Path) -> str:
    """A title from a file name: "2023_annual-report.pdf" -> "2023 annual report"."""
    return clean(_NAME_SEPARATORS.sub(" ", Path(path).stem))


def outline(text: str, markdown: bool, title: str | None, fallback: str = "") -> Outline:
    """The document's title and headings. `title` None: the first level-1 heading, else
    `fallback`; a given title (even "") is used as it is."""
    found = tuple(headings(text)) if markdown else ()
    if title is None:
        first = next((h.text for h in found if h.level == 1 and h.text), "")
        title = first or fallback
    return Outline(clean(title), found)


def heading_paths(found: Sequence[Heading], offsets: Sequence[int]) -> list[list[Heading]]:
    """For each offset (ascending), the headings it lies under: the nearest heading of each
    level at or before it, a heading closing every deeper level. One pass over the headings."""
    paths: list[list[Heading]] = []
    stack: list[Heading] = []
    position = 0
    for offset in offsets:
        while position < len(found) and found[position].start <= offset:
            heading = found[position]
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            position += 1
        paths.append(list(stack))
    return paths


def heading_path(found: Sequence[Heading], offset: int) -> list[str]:
    """The texts of the headings `offset` lies under, outermost first."""
    return [h.text for h in heading_paths(found, [offset])[0]]


def _key(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()


def context_line(doc: Outline, path: Sequence[Heading], start: int, end: int) -> str:
    """"Title > Section > Subsection" for the chunk `start:end` under `path`: headings inside
    the chunk (it already says them) and a title repeated by a heading are left out."""
    starts = [h.start for h in doc.headings]
    inside = doc.headings[bisect_left(starts, start) : bisect_right(starts, end - 1)]
    said = {_key(h.text) for h in inside}
    parts = [h.text for h in path if h.start < start and h.text]
    if doc.title and _key(doc.title) not in said and _key(doc.title) not in map(_key, parts[:1]):
        parts.insert(0, doc.title)
    while len(SEPARATOR.join(parts)) > CONTEXT_CHARS and len(parts) > 2:
        del parts[1]  # keep the title and the nearest headings
    return SEPARATOR.join(parts)[:CONTEXT_CHARS]


def with_context(chunks: Sequence[Chunk], doc: Outline, *, embed: bool = False) -> list[Chunk]:
    """The chunks with their context lines (text and offsets unchanged); `embed`: the line is
    embedded with the text too, not only keyword-indexed."""
    order = sorted(range(len(chunks)), key=lambda i: chunks[i].start)
    paths = heading_paths(doc.headings, [chunks[i].start for i in order])
    out = list(chunks)
    for i, path in zip(order, paths, strict=True):
        chunk = chunks[i]
        line = context_line(doc, path, chunk.start, chunk.end)
        out[i] = dataclasses.replace(chunk, context=line, embed_context=embed and bool(line))
    return out
