"""The one sentence splitter: answers and summaries (citation checks), support spans inside
passages, chunk packing and passage focusing all cut text here.

Boundaries come from `sentencex` (Wikimedia's rule-based segmenter, compiled), which knows
decimals, versions, abbreviations, initials, file names and URLs; it scored best of five
candidates on tests/data/sentences (see docs/benchmarks.md, "Sentence splitting") while staying
within 2x of a plain regex in speed. On top of it, a few rules that matter here: a line that
starts a list item starts a sentence, `[n]` markers after a full stop stay with the sentence they
close, and a piece without any letter or digit (a stray quote, an ellipsis) joins its neighbour.

Spans are `(start, end)` offsets into the text, trimmed of whitespace, in order, and together they
cover every non-whitespace character of the region exactly once.
"""

from __future__ import annotations

import re

import sentencex

from chatbot.markers import MARKER

Spans = list[tuple[int, int]]

#: A line that opens a list item ("- x", "* x", "1. x", "2) x", "a) x").
_LIST_ITEM = re.compile(r"\n[ \t]*(?=(?:[-*•+]|\d{1,3}[.)]|[a-zA-Z][.)])[ \t]+\S)")
_LINE = re.compile(r"\n")
#: What separates the cells of a table row written by `chatbot.tables`.
_CELL_SEPARATOR = " | "
#: Boundaries sentencex leaves out: "?!" runs, and "." or "!" or "?" closed by a bracket.
_EXTRA = re.compile(r"(?:[!?][!?.]+|[.!?][)\]])[\"'”’]*[ \t]+(?=[\"'“‘(]?[A-Z])")
#: Markers (and blanks) that open a piece: they close the previous sentence.
_LEADING_MARKERS = re.compile(rf"(?:{MARKER.pattern})+")
#: A short word before a full stop that is an abbreviation when a number follows.
_BEFORE_NUMBER = re.compile(
    r"\b(?:No|Nos|Nr|Vol|Vols|Fig|Figs|Eq|Eqs|Sec|Ch|Art|Ref|Refs|p|pp|ca|approx|cf|vs|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$",
    re.IGNORECASE,
)
#: A piece that is only a list item's number or letter ("1.", "b)"): it belongs to what follows.
_ENUMERATOR = re.compile(r"(?:\d{1,3}|[a-zA-Z])[.)]")
_WORD = re.compile(r"\w")
_LANGUAGE = "en"


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _cut(pattern: re.Pattern[str], text: str, start: int, end: int, *, keep: bool) -> Spans:
    """The region cut at each match of `pattern`; `keep` leaves the match at the end of the
    piece before it, else it is dropped."""
    out: Spans = []
    begin = start
    for match in pattern.finditer(text, start, end):
        out.append((begin, match.end() if keep else match.start()))
        begin = match.end()
    out.append((begin, end))
    return out


def _table_rows(text: str, start: int, end: int) -> Spans:
    """Cut the region at every line break next to a table row (a line with " | ", as
    `chatbot.tables` writes rows): each row is a sentence of its own."""
    out: Spans = []
    begin = start
    first_end = text.find("\n", start, end)
    previous_row = _CELL_SEPARATOR in text[start : end if first_end < 0 else first_end]
    for match in _LINE.finditer(text, start, end):
        line_end = text.find("\n", match.end(), end)
        is_row = _CELL_SEPARATOR in text[match.end() : end if line_end < 0 else line_end]
        if is_row or previous_row:
            out.append((begin, match.start()))
            begin = match.end()
        previous_row = is_row
    out.append((begin, end))
    return out


def _blocks(text: str, start: int, end: int, lines: bool) -> Spans:
    """Cut the region where a sentence must end whatever the segmenter says: before list
    items and around table rows, and (for model replies, `lines=True`) at every line break."""
    if lines:
        return _cut(_LINE, text, start, end, keep=False)
    pieces = _cut(_LIST_ITEM, text, start, end, keep=False)
    if _CELL_SEPARATOR not in text[start:end]:
        return pieces
    return [cut for a, b in pieces for cut in _table_rows(text, a, b)]


def _segment(text: str, start: int, end: int) -> Spans:
    """sentencex's pieces of one block as offsets (the pieces concatenate to the input)."""
    block = text[start:end]
    pieces = list(sentencex.segment(_LANGUAGE, block)) if block.strip() else []
    if "".join(pieces) != block:  # never trust offsets that do not add up
        return [(start, end)]
    out: Spans = []
    offset = start
    for piece in pieces:
        out.extend(_cut(_EXTRA, text, offset, offset + len(piece), keep=True))
        offset += len(piece)
    return out


def _merge(text: str, spans: Spans) -> Spans:
    """Apply the joining rules to trimmed spans of one block."""
    out: Spans = []
    for start, end in spans:
        if out:
            lead = _LEADING_MARKERS.match(text, start, end)
            if lead and lead.end() > start:  # "first. [1] Then" -> "first. [1]" | "Then"
                out[-1] = (out[-1][0], lead.end())
                trimmed = _trim(text, lead.end(), end)
                if trimmed is None:
                    continue
                start, end = trimmed
            previous = text[out[-1][0] : out[-1][1]]
            no_word = not _WORD.search(previous) or not _WORD.search(text[start:end])
            joined = no_word or _ENUMERATOR.fullmatch(previous) is not None
            if joined or (_BEFORE_NUMBER.search(previous) and text[start].isdigit()):
                out[-1] = (out[-1][0], end)
                continue
        out.append((start, end))
    return out


def sentence_spans(
    text: str, start: int = 0, end: int | None = None, *, lines: bool = False
) -> Spans:
    """Sentences of `text[start:end]` as trimmed `(start, end)` offsets into `text`.

    `lines=True` also ends a sentence at every line break (model replies, where a line is a
    unit); document text keeps line-wrapped sentences whole (PDF lines break mid-sentence).
    """
    stop = len(text) if end is None else end
    out: Spans = []
    for b_start, b_end in _blocks(text, start, stop, lines):
        pieces = [t for a, b in _segment(text, b_start, b_end) if (t := _trim(text, a, b))]
        out.extend(_merge(text, pieces))
    return out


def sentences(text: str, *, lines: bool = False) -> list[str]:
    """The sentence texts of `text` (see `sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text, lines=lines)]
