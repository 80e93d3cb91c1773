"""Retrieval and answer metrics of `chatbot bench`: pure functions of ranked ids and answers.

Recall counts distinct passages, so a passage split into several chunks is not counted twice;
answers are scored with SQuAD's normalisation (extended to Unicode punctuation)."""

from __future__ import annotations

import re
import statistics
import string
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

_ASCII_PUNCTUATION = frozenset(string.punctuation)


def distinct(ids: Iterable[str]) -> list[str]:
    """Ids in order of first appearance (a passage's best chunk decides its rank)."""
    return list(dict.fromkeys(ids))


def first_hit(ranked: Sequence[str], gold: Iterable[str]) -> int | None:
    """0-based rank of the first gold passage, or None."""
    wanted = set(gold)
    return next((i for i, pid in enumerate(ranked) if pid in wanted), None)


def recall_at(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 when some gold passage is among the top k distinct passages."""
    hit = first_hit(ranked, gold)
    return 1.0 if hit is not None and hit < k else 0.0


def all_gold_at(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 when every gold passage is among the top k."""
    return 1.0 if set(gold) <= set(ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    hit = first_hit(ranked, gold)
    return 1.0 / (hit + 1) if hit is not None and hit < k else 0.0


def retrieval_metrics(runs: Sequence[tuple[Sequence[str], Sequence[str]]]) -> dict[str, Any]:
    """Mean recall@1/5/10, MRR@10 and all-gold@10 (multi-gold questions only) over
    (ranked passage ids, gold ids) pairs of answerable questions."""
    multi = [(ranked, gold) for ranked, gold in runs if len(set(gold)) > 1]

    def mean(values: Iterable[float]) -> float | None:
        items = list(values)
        return round(sum(items) / len(items), 4) if items else None

    return {
        "recall@1": mean(recall_at(r, g, 1) for r, g in runs),
        "recall@5": mean(recall_at(r, g, 5) for r, g in runs),
        "recall@10": mean(recall_at(r, g, 10) for r, g in runs),
        "all_gold@10": mean(all_gold_at(r, g, 10) for r, g in multi),
        "mrr@10": mean(reciprocal_rank(r, g, 10) for r, g in runs),
        "n": len(runs),
        "n_multi_gold": len(multi),
    }


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation (lowercase, drop punctuation and articles, squeeze whitespace),
    with Unicode punctuation dropped too, so "20–18" (en dash) matches "20-18"."""
    text = text.lower()
    text = "".join(
        ch for ch in text if ch not in _ASCII_PUNCTUATION and unicodedata.category(ch)[0] != "P"
    )
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


#: Number words a model may write as digits (or the other way round) for the same fact.
NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate([
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen", "twenty",
    ])
}


def _numbers_as_digits(normalized: str) -> str:
    return " ".join(NUMBER_WORDS.get(token, token) for token in normalized.split())


def answer_match(answer: str, golds: Iterable[str], numbers: bool = False) -> bool:
    """Some gold answer appears in the answer, both normalised (SQuAD style).

    With `numbers`, number words up to twenty also match their digits ("4 forced fumbles" for
    the gold "four"), which plain SQuAD normalisation counts as a miss."""

    def norm(text: str) -> str:
        normalized = normalize_answer(text)
        return _numbers_as_digits(normalized) if numbers else normalized

    normalized = f" {norm(answer)} "
    return any(f" {norm(g)} " in normalized for g in golds if norm(g))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (as numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class AnswerRecord:
    """One benchmark question's answer, reduced to what the metrics need."""

    id: str
    question: str
    gold: list[str]
    answers: list[str]
    answer: str
    abstained: bool
    #: For each citation: (passage id, citation text).
    citations: list[tuple[str, str]] = field(default_factory=list)
    first_token_s: float | None = None
    total_s: float = 0.0
    #: Notes of the injection guard: what it withheld from the model or removed from the reply.
    guard_notes: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.abstained and answer_match(self.answer, self.answers)

    @property
    def matched_numbers(self) -> bool:
        return not self.abstained and answer_match(self.answer, self.answers, numbers=True)

    def good_citations(self) -> int:
        return sum(
            1
            for pid, text in self.citations
            if pid in self.gold or answer_match(text, self.answers)
        )


def answer_metrics(records: Sequence[AnswerRecord]) -> dict[str, Any]:
    """Answer match, citation precision and false abstention (abstained although answerable)
    over answerable questions; abstention precision and recall over all (a correct abstention
    is one on a question without gold passages)."""
    answerable = [r for r in records if r.gold]
    citations = sum(len(r.citations) for r in answerable)
    abstained = [r for r in records if r.abstained]
    unanswerable = [r for r in records if not r.gold]
    ttft = [r.first_token_s for r in records if r.first_token_s is not None]
    total = [r.total_s for r in records]

    def ratio(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "answer_match": ratio(sum(r.matched for r in answerable), len(answerable)),
        "answer_match_numbers": ratio(
            sum(r.matched_numbers for r in answerable), len(answerable)
        ),
        "citation_precision": ratio(sum(r.good_citations() for r in answerable), citations),
        "citations": citations,
        # The target "every non-abstained answer carries at least one valid citation".
        "answers_without_citation": sum(not r.abstained and not r.citations for r in records),
        "abstention_precision": ratio(sum(not r.gold for r in abstained), len(abstained)),
        "abstention_recall": ratio(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "false_abstention": ratio(sum(r.abstained for r in answerable), len(answerable)),
        "abstained": len(abstained),
        # Answers the injection guard changed (chatbot/guard.py): its cost on benign questions.
        "guard_changed": sum(bool(r.guard_notes) for r in records),
        "ttft_median_s": rounded(statistics.median(ttft) if ttft else None),
        "ttft_p90_s": rounded(percentile(ttft, 90)),
        "total_median_s": rounded(statistics.median(total) if total else None),
        "total_p90_s": rounded(percentile(total, 90)),
    }
