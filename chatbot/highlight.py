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


def locate(sentence: str, chars: Sequence[str]) -> list[int]:
    """Indices of the page characters that spell `sentence` (exactly, up to the folding),
    else those of the best-matching run of words; [] when nothing matches well enough."""
    needle, _ = _keyed(list(sentence))
    if not needle:
        return []
    key, owners = _keyed(chars)
    at = key.find(needle)
    if at >= 0:
        return list(range(owners[at], owners[at + len(needle) - 1] + 1))
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


def _same_line(run: Box, box: Box) -> bool:
    overlap = min(run[3], box[3]) - max(run[1], box[1])
    height = min(run[3] - run[1], box[3] - box[1])
    return overlap > 0.5 * height and box[0] >= run[0] - PAD


def merge_boxes(chars: Sequence[PageChar], indices: Sequence[int]) -> list[Box]:
    """One box per line run of the chosen characters (spaces and boxless ones skipped)."""
    runs: list[Box] = []
    for i in indices:
        char = chars[i]
        if char.box is None or char.char.isspace():
            continue
        box = char.box
        if runs and _same_line(runs[-1], box):
            run = runs[-1]
            runs[-1] = (min(run[0], box[0]), min(run[1], box[1]),
                        max(run[2], box[2]), max(run[3], box[3]))
        else:
            runs.append(box)
    return [(x0 - PAD, y0 - PAD, x1 + PAD, y1 + PAD) for x0, y0, x1, y1 in runs]


def highlight(sentence: str, chars: Sequence[PageChar]) -> list[Box]:
    """The boxes to draw over `sentence` on a page of `chars` ([] when it is not found)."""
    return merge_boxes(chars, locate(sentence, [c.char for c in chars]))
