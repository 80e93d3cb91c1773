"""The answer prompt's context: retrieved chunks narrowed to their best sentences, fitted to
the context window, grouped by source and formatted as numbered passages.

Summaries and the warm start build on the same formatting, so passage numbering, the
`Source:` lines and the injection defences are the same in every prompt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chatbot import guard
from chatbot.models import Passage
from chatbot.prompts import load_prompt
from chatbot.retrieve import bm25_tokens
from chatbot.sentences import sentence_spans


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate (about 3 characters per token) that needs no tokenizer
    download; the budget stays safe for BPE tokenizers on English and code."""
    return len(text) // 3 + 1


def passage_block(
    n: int, passage: Passage, text: str | None = None, show_source: bool = True,
    guarded: bool = True,
) -> str:
    """One numbered passage as the model sees it (`text` replaces the passage's own): planted
    instructions withheld, the prompt's own structure defused (`chatbot.guard`)."""
    head = f"Source: {' '.join(passage.source.split())}\n" if show_source else ""
    page = f"(page {passage.page}) " if passage.page else ""
    return f"{head}[{n}] {page}{guard.as_data(passage.text if text is None else text, guarded)}"


def format_passages(
    passages: Sequence[Passage], texts: Sequence[str] | None = None, guarded: bool = True
) -> str:
    """Passages numbered from 1, with a "Source:" line whenever the source changes.

    Naming the source once per run of passages rather than per passage saves about ten prompt
    tokens per passage (an eighth of a second each at laptop prompt speed)."""
    return "\n\n".join(
        passage_block(
            i + 1, p, None if texts is None else texts[i],
            show_source=i == 0 or passages[i - 1].source != p.source, guarded=guarded,
        )
        for i, p in enumerate(passages)
    )


def answer_messages(
    passages: Sequence[Passage], question: str, prompts_dir: Path | None = None,
    guarded: bool = True, hint: str = "",
) -> list[BaseMessage]:
    """The system prompt stays identical across questions, so the model server reuses its
    cached prefix and only the passages and question are processed anew. `hint` is the
    question-type reminder (`chatbot.question_types`), on its own line after the question."""
    return [
        SystemMessage(load_prompt("answer_system", prompts_dir).template),
        HumanMessage(
            load_prompt("answer", prompts_dir).format(
                passages=format_passages(passages, guarded=guarded), question=question,
                hint=f"\n{hint}" if hint else "",
            )
        ),
    ]


def fit_context(
    passages: list[Passage], question: str, budget: int, prompts_dir: Path | None = None,
    guarded: bool = True, hint: str = "",
) -> tuple[list[Passage], list[str], list[BaseMessage]]:
    """Drop lowest-ranked passages (then trim the last one) until the prompt fits `budget`;
    returns the kept passages, notes on what was cut, and the messages to send.

    The kept passages are then grouped by source, sources in the order of their best passage
    and each source's passages in reading order. The most relevant document still comes first
    (a 1.5B model leans on it: plain reading order across files made it abstain more often),
    one document's passages read as it tells them, and consecutive questions about one
    document share a longer prompt prefix, which the model server has already processed.
    """
    notes: list[str] = []

    def size(items: Sequence[Passage]) -> int:
        messages = answer_messages(items, question, prompts_dir, guarded, hint)
        return sum(estimate_tokens(str(m.content)) for m in messages)

    kept = list(passages)
    while len(kept) > 1 and size(kept) > budget:
        dropped = kept.pop()
        notes.append(f"dropped passage from {dropped.source} to fit the context window")
    if kept and size(kept) > budget:
        first = kept[0]
        overflow_chars = (size(kept) - budget) * 3 + 3
        keep = max(len(first.text) - overflow_chars, 0)
        if keep == 0:
            kept = []
            notes.append("no passage fits the context window; question too long?")
        else:
            cut = first.text.rfind(" ", 0, keep)
            keep = cut if cut > 0 else keep
            kept[0] = replace(first, text=first.text[:keep], end=first.start + keep)
            notes.append(f"trimmed passage from {first.source} to {keep} characters to fit")
    kept = by_source(kept)
    return kept, notes, answer_messages(kept, question, prompts_dir, guarded, hint)


def by_source(passages: Sequence[Passage]) -> list[Passage]:
    """Group by source (first-ranked source first), each group in reading order."""
    rank: dict[str, int] = {}
    for p in passages:
        rank.setdefault(p.source, len(rank))
    return sorted(passages, key=lambda p: (rank[p.source], p.start))


def focus(
    passage: Passage,
    question: str,
    max_chars: int,
    weights: Mapping[str, float] | None = None,
) -> Passage:
    """Narrow a chunk to the window of sentences that best matches the question.

    Prompt processing dominates latency on a laptop (about 80 tokens/s here), so the model sees
    only the sentences that matter; the citation then points at exactly that window. A
    sentence scores by how many question terms it shares, ties broken by their summed
    `weights` (IDF), so a rare shared word ("fourth") beats one every chunk has ("Kazakhstan").
    """
    if not max_chars or len(passage.text) <= max_chars:
        return passage
    text = passage.text
    spans = sentence_spans(text)
    if not spans:
        return passage
    wanted = set(bm25_tokens(question))
    weight = weights or {}
    shared = [wanted & set(bm25_tokens(text[a:b])) for a, b in spans]
    scores = [(len(terms), sum(weight.get(t, 0.0) for t in terms)) for terms in shared]
    best = max(range(len(spans)), key=lambda i: scores[i])
    lo = hi = best
    while True:
        grow = [i for i in (hi + 1, lo - 1) if 0 <= i < len(spans)]
        grow = [i for i in grow if max(spans[hi][1], spans[i][1]) - min(spans[lo][0], spans[i][0])
                <= max_chars]
        if not grow:
            break
        pick = max(grow, key=lambda i: (scores[i], i > hi))
        lo, hi = min(lo, pick), max(hi, pick)
    start, end = spans[lo][0], spans[hi][1]
    if end - start > max_chars:
        cut = text.rfind(" ", start, start + max_chars)
        end = cut if cut > start else start + max_chars
    return replace(
        passage, text=text[start:end], start=passage.start + start, end=passage.start + end
    )
