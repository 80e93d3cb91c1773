"""Find a cited sentence among a page's characters and turn it into highlight boxes.

The stored document text was extracted by pypdf and normalised, while the boxes come from
another reader (pdfium's text layer, or OCR lines), so the two never agree character for
character: spacing, line breaks, hyphenation (`fog-` + `horn`, which pdfium joins with a
marker) and ligatures (`ﬁ`) differ. Matching therefore compares a folded key (NFKC,
case-folded, without whitespace or hyphens) and falls back to the best-matching run of words.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

#: (x0, y0, x1, y1) in PDF points, origin at the top-left corner of the displayed page.
Box = tuple[float, float, float, float]

#: Characters matching ignores: hyphens and soft hyphens (a word broken over two lines),
#: pdfium's end-of-line hyphen markers (\x02, and \ufffe in get_text_range).
_IGNORED = frozenset("-\u00ad\u2010\u2011\x02\ufffe")
#: Below this share of the sentence's words, the best run of page words is not the sentence.
MIN_WORD_SHARE = 0.6
#: Padding around each highlight box, in points.
PAD = 1.0


@dataclass(frozen=True)
class PageChar:
    """One character of a page and where it is drawn (None for generated spaces and breaks)."""

    char: str
    box: Box | None


def fold(char: str) -> str:
    """What a character counts as when matching ('' for whitespace and hyphens)."""
    if char in _IGNORED or char.isspace():
        return ""
    return "".join(
        c for c in unicodedata.normalize("NFKC", char).casefold()
        if c not in _IGNORED and not c.isspace()
    )


def _keyed(chars: Sequence[str]) -> tuple[str, list[int]]:
    """The folded key of `chars` and, for each key character, the index it came from."""
    key: list[str] = []
    owners: list[int] = []
    for i, char in enumerate(chars):
        folded = fold(char)
        key.append(folded)
        owners += [i] * len(folded)
    return "".join(key), owners


def _words(chars: Sequence[str]) -> list[tuple[str, int, int]]:
    """Folded words with the first and last index of their characters."""
    words: list[tuple[str, int, int]] = []
    current: list[str] = []
    first = last = 0
    for i, char in enumerate(chars):
        folded = fold(char)
        if folded and all(c.isalnum() for c in folded):
            if not current:
                first = i
            current.append(folded)
            last = i
        elif char in _IGNORED:
            continue  # a hyphen inside a word keeps the word going
        elif current:
            words.append(("".join(current), first, last))
            current = []
    if current:
        words.append(("".join(current), first, last))
    return words


def _exact(needle: str, key: str, owners: list[int]) -> list[int]:
    at = key.find(needle)
    if at < 0:
        return []
    return list(range(owners[at], owners[at + len(needle) - 1] + 1))


def locate(sentence: str, chars: Sequence[str]) -> list[int]:
    """Indices of the page characters that spell `sentence` (exactly, up to the folding);
    else of its lines found one by one (the two readers ordered the page's lines
    differently); else of the best-matching run of words; [] when nothing matches well."""
    needle, _ = _keyed(list(sentence))
    if not needle:
        return []
    key, owners = _keyed(chars)
    found = _exact(needle, key, owners)
    if found:
        return found
    lines = [_keyed(list(line))[0] for line in sentence.splitlines()]
    pieces = [_exact(line, key, owners) for line in lines if line]
    if len(pieces) > 1 and all(pieces):
        return sorted({i for piece in pieces for i in piece})
    return _best_run(sentence, chars)


def _best_run(sentence: str, chars: Sequence[str]) -> list[int]:
    """The window of page words (as many as the sentence has) sharing most of its words,
    trimmed to its first and last shared word."""
    wanted = Counter(w for w, _, _ in _words(list(sentence)))
    size = sum(wanted.values())
    page = _words(chars)
    if not size or not page:
        return []
    best, best_at = -1, 0
    for at in range(max(1, len(page) - size + 1)):
        window = Counter(w for w, _, _ in page[at : at + size])
        shared = sum((window & wanted).values())
        if shared > best:
            best, best_at = shared, at
    if best < max(1.0, MIN_WORD_SHARE * size):
        return []
    hits = [p for p in page[best_at : best_at + size] if p[0] in wanted]
    return list(range(hits[0][1], hits[-1][2] + 1))


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """How much two intervals overlap, as a share of the shorter one."""
    return (min(a1, b1) - max(a0, b0)) / max(min(a1 - a0, b1 - b0), 1e-6)


def _direction(run: Box, box: Box) -> str | None:
    """'x' when `box` continues `run` along a horizontal line, 'y' along a vertical one (a
    page shown rotated by a quarter turn), None when it starts a new line."""
    size = max(run[3] - run[1], run[2] - run[0], box[3] - box[1], box[2] - box[0])
    if _overlap(run[1], run[3], box[1], box[3]) > 0.5 and box[0] >= run[0] - PAD:
        return "x"
    if _overlap(run[0], run[2], box[0], box[2]) > 0.5 and abs(box[1] - run[3]) < size:
        return "y"
    return None


def merge_boxes(chars: Sequence[PageChar], indices: Sequence[int]) -> list[Box]:
    """One box per line run of the chosen characters (spaces and boxless ones skipped).
    A run keeps the direction its first two characters took, so the lines of a rotated
    page merge along their own axis and never across."""
    runs: list[tuple[Box, str | None]] = []
    for i in indices:
        char = chars[i]
        if char.box is None or char.char.isspace():
            continue
        box = char.box
        if runs:
            run, axis = runs[-1]
            way = _direction(run, box)
            if way is not None and axis in (None, way):
                union = (min(run[0], box[0]), min(run[1], box[1]),
                         max(run[2], box[2]), max(run[3], box[3]))
                runs[-1] = (union, way)
                continue
        runs.append((box, None))
    return [(x0 - PAD, y0 - PAD, x1 + PAD, y1 + PAD) for (x0, y0, x1, y1), _ in runs]


def highlight(sentence: str, chars: Sequence[PageChar]) -> list[Box]:
    """The boxes to draw over `sentence` on a page of `chars` ([] when it is not found)."""
    return merge_boxes(chars, locate(sentence, [c.char for c in chars]))
