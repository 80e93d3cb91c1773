"""Parse, validate, repair and attribute the `[n]` markers of a generated answer.

After generation every marker is checked against the passages the model was given; invalid ones
are removed and reported, uncited sentences are attributed to the passage that supports them best
(or flagged), and each citation records the sentence inside its passage that supports the claim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chatbot import markers
from chatbot.models import Citation, Passage, Sentence
from chatbot.retrieve import bm25_tokens
from chatbot.sentences import sentence_spans

#: Share of a sentence's content words that must occur in a passage to count as support.
SUPPORT_THRESHOLD = 0.5
_WORD = re.compile(r"\w")


@dataclass
class CheckedAnswer:
    text: str
    sentences: list[Sentence]
    citations: list[Citation]
    notes: list[str] = field(default_factory=list)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentences of a model reply (a line break ends one too), as offsets into `text`."""
    return sentence_spans(text, lines=True)


def overlap(claim: str, evidence: str) -> float:
    """Share of the claim's content words found in the evidence (0 when the claim has none)."""
    words = set(bm25_tokens(markers.strip(claim)))
    if not words:
        return 0.0
    return len(words & set(bm25_tokens(evidence))) / len(words)


def _strip_invalid(text: str, valid: range, notes: list[str]) -> str:
    def keep(numbers: list[int]) -> list[int]:
        for n in numbers:
            if n not in valid:
                notes.append(f"removed citation [{n}]: no such passage")
        return [n for n in numbers if n in valid]

    return markers.rewrite(text, keep)


def support_span(passage: Passage, claims: Sequence[str]) -> tuple[int, int]:
    """Document offsets of the passage sentence that best supports the claims."""
    best = (-1.0, passage.start, passage.end)
    for start, end in sentence_spans(passage.text):
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
                support_start=s_start, support_end=s_end, ocr=passage.ocr,
            )
        )
    return citations


def check(
    answer: str, passages: Sequence[Passage], threshold: float = SUPPORT_THRESHOLD
) -> CheckedAnswer:
    """Validate markers against `passages` (numbered from 1) and attribute uncited sentences.

    Only markers are inserted, moved or deleted: every other character of the reply survives
    in order (the text between sentences included), so the answer says what the model said.
    """
    notes: list[str] = []
    text = _strip_invalid(answer, range(1, len(passages) + 1), notes).strip()
    sentences: list[Sentence] = []
    pieces: list[str] = []
    claims_for: dict[int, list[str]] = {}
    done = 0
    for start, end in split_sentences(text):
        raw = text[start:end]
        pieces.append(text[done:start])
        done = end
        claim = markers.strip(raw).strip()
        if not _WORD.search(claim):  # a bare marker or a stray quote says nothing
            pieces.append(raw)
            continue
        raw, cited, supported = _check_sentence(raw, claim, passages, threshold, notes)
        for n in cited:
            claims_for.setdefault(n, []).append(claim)
        sentences.append(Sentence(text=raw, citations=cited, supported=supported))
        pieces.append(raw)
    pieces.append(text[done:])
    return CheckedAnswer("".join(pieces), sentences, cite(passages, claims_for), notes)


def _check_sentence(
    raw: str, claim: str, passages: Sequence[Passage], threshold: float, notes: list[str]
) -> tuple[str, list[int], bool]:
    """One sentence's markers, validated, retargeted or attributed: (text, cited, supported)."""
    cited = sorted(set(markers.numbers(raw)))
    supported = bool(cited)
    if cited:
        cited, raw = _retarget(raw, claim, cited, passages, threshold, notes)
        if _unbacked(claim, [passages[n - 1] for n in cited]):
            supported = False
            notes.append(f"cited passage does not support: {claim[:60]!r}")
    elif passages:
        scores = [overlap(claim, p.text) for p in passages]
        best = max(range(len(passages)), key=lambda i: scores[i])
        if scores[best] >= threshold:
            cited, supported = [best + 1], True
            notes.append(f"attributed uncited sentence to [{best + 1}]: {claim[:60]!r}")
            raw = markers.attach(raw, cited)
        else:
            notes.append(f"unsupported sentence: {claim[:60]!r}")
    else:
        notes.append(f"unsupported sentence: {claim[:60]!r}")
    return raw, cited, supported


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
    return [best + 1], markers.attach(markers.strip(raw), [best + 1])
