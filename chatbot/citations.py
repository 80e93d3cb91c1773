"""Parse, validate, repair and attribute the `[n]` markers of a generated answer.

After generation every marker is checked against the passages the model was given; invalid ones
are removed and reported, uncited sentences are attributed to the passage that supports them best
(or flagged), and each citation records the sentence inside its passage that supports the claim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chatbot.models import Citation, Passage, Sentence
from chatbot.retrieve import bm25_tokens

MARKER = re.compile(r"\s?\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"'”’)]*|\n|$)(?:\s*\[\d+(?:\s*,\s*\d+)*\])*\.?")
#: Share of a sentence's content words that must occur in a passage to count as support.
SUPPORT_THRESHOLD = 0.5


@dataclass
class CheckedAnswer:
    text: str
    sentences: list[Sentence]
    citations: list[Citation]
    notes: list[str] = field(default_factory=list)


def split_sentences(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _SENTENCE.finditer(text):
        if match.group(0).strip():
            start = match.start() + (len(match.group(0)) - len(match.group(0).lstrip()))
            spans.append((start, match.end()))
    return spans


def overlap(claim: str, evidence: str) -> float:
    """Share of the claim's content words found in the evidence (0 when the claim has none)."""
    words = set(bm25_tokens(MARKER.sub("", claim)))
    if not words:
        return 0.0
    return len(words & set(bm25_tokens(evidence))) / len(words)


def _markers(text: str) -> list[int]:
    return [int(n) for group in MARKER.findall(text) for n in re.split(r"\s*,\s*", group)]


def _strip_invalid(text: str, valid: range, notes: list[str]) -> str:
    def fix(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
        kept = [n for n in numbers if n in valid]
        for n in numbers:
            if n not in valid:
                notes.append(f"removed citation [{n}]: no such passage")
        return f" [{', '.join(map(str, kept))}]" if kept else ""

    return MARKER.sub(fix, text)


def support_span(passage: Passage, claims: Sequence[str]) -> tuple[int, int]:
    """Document offsets of the passage sentence that best supports the claims."""
    best = (-1.0, passage.start, passage.end)
    for start, end in split_sentences(passage.text):
        sentence = passage.text[start:end]
        score = max((overlap(c, sentence) for c in claims), default=0.0)
        if score > best[0]:
            best = (score, passage.start + start, passage.start + start + len(sentence.rstrip()))
    return best[1], best[2]


def cite(passages: Sequence[Passage], claims_for: dict[int, list[str]]) -> list[Citation]:
    """One citation per cited passage number, with the sentence that best supports its claims."""
    citations = []
    for n in sorted(claims_for):
        passage = passages[n - 1]
        s_start, s_end = support_span(passage, claims_for[n])
        citations.append(
            Citation(
                n=n, source=passage.source, chunk_id=passage.chunk_id, text=passage.text,
                start=passage.start, end=passage.end, page=passage.page,
                support_start=s_start, support_end=s_end,
            )
        )
    return citations


def check(
    answer: str, passages: Sequence[Passage], threshold: float = SUPPORT_THRESHOLD
) -> CheckedAnswer:
    """Validate markers against `passages` (numbered from 1) and attribute uncited sentences."""
    notes: list[str] = []
    valid = range(1, len(passages) + 1)
    text = _strip_invalid(answer, valid, notes).strip()
    sentences: list[Sentence] = []
    rebuilt: list[str] = []
    claims_for: dict[int, list[str]] = {}
    for start, end in split_sentences(text):
        raw = text[start:end].strip()
        claim = MARKER.sub("", raw).strip()
        if not re.search(r"\w", claim):  # a bare marker or a stray quote says nothing
            continue
        cited = sorted(set(_markers(raw)))
        supported = bool(cited)
        if cited and claim:
            cited, raw = _retarget(raw, claim, cited, passages, threshold, notes)
            if _unbacked(claim, [passages[n - 1] for n in cited]):
                supported = False
                notes.append(f"cited passage does not support: {claim[:60]!r}")
        if not cited and passages and claim:
            scores = [overlap(claim, p.text) for p in passages]
            best = max(range(len(passages)), key=lambda i: scores[i])
            if scores[best] >= threshold:
                cited = [best + 1]
                supported = True
                notes.append(f"attributed uncited sentence to [{best + 1}]: {claim[:60]!r}")
                raw = _attach(raw, best + 1)
            else:
                notes.append(f"unsupported sentence: {claim[:60]!r}")
        for n in cited:
            claims_for.setdefault(n, []).append(claim)
        sentences.append(Sentence(text=raw, citations=cited, supported=supported))
        rebuilt.append(raw)
    citations = cite(passages, claims_for)
    return CheckedAnswer(" ".join(rebuilt), sentences, citations, notes)


#: A cited sentence sharing less than this with every passage it cites is flagged unsupported
#: (for example a fact the model brought from outside, with a citation attached).
UNBACKED_FLOOR = 0.2


def _unbacked(claim: str, cited: Sequence[Passage]) -> bool:
    if len(set(bm25_tokens(claim))) < 2:  # "Yes [1]." says too little to judge
        return False
    return max(overlap(claim, p.text) for p in cited) < UNBACKED_FLOOR


def _retarget(
    raw: str,
    claim: str,
    cited: list[int],
    passages: Sequence[Passage],
    threshold: float,
    notes: list[str],
) -> tuple[list[int], str]:
    """Move a citation that points at the wrong passage to the one that supports the claim.

    Small models often cite [1] for a fact that stands in [2]; a cited passage that shares
    few of the claim's words, when another passage shares most of them, is such a mistake.
    """
    scores = [overlap(claim, p.text) for p in passages]
    if max(scores[n - 1] for n in cited) >= threshold:
        return cited, raw
    best = max(range(len(passages)), key=lambda i: scores[i])
    if scores[best] < threshold:
        return cited, raw
    notes.append(f"moved citation {cited} to [{best + 1}], which supports: {claim[:60]!r}")
    return [best + 1], _attach(MARKER.sub("", raw).rstrip(), best + 1)


def _attach(sentence: str, n: int) -> str:
    """Put `[n]` before the sentence's final punctuation."""
    match = re.search(r"([.!?]+[\"'”’)]*)$", sentence)
    if match:
        return f"{sentence[: match.start()]} [{n}]{match.group(1)}"
    return f"{sentence} [{n}]"
