"""How a summary's chunks are cut into map batches that fit the model's context window.

Kept apart from the model calls (`chatbot.summarize`) because it is pure arithmetic on token
estimates: one section per requested bullet, and a section too large for the window is split
again, so every chunk is read exactly once and in order."""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.answer import AnswerError
from chatbot.context import estimate_tokens, passage_block
from chatbot.models import Passage
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt

#: Tokens kept free besides the answer, for the chat template's own wrapping.
MARGIN_TOKENS = 32
#: Below this many tokens for passages a batch cannot hold anything useful.
MIN_BUDGET_TOKENS = 64


class SummaryError(AnswerError):
    """A user-facing failure of a summary (unknown source, empty index); says what to do."""


def bullet_count(n: int) -> str:
    """How prompts ask for bullets ("one bullet point", "3 bullet points")."""
    return "one bullet point" if n == 1 else f"{n} bullet points"


def map_budget(pipeline: Pipeline, bullets: int) -> int:
    """Tokens left for passages in a map prompt."""
    overhead = estimate_tokens(
        load_prompt("summarize_map", pipeline.settings.prompts_dir).format(
            passages="", bullets=bullet_count(bullets)
        )
    )
    return token_budget(pipeline, overhead)


def token_budget(pipeline: Pipeline, overhead: int) -> int:
    budget = (
        pipeline.chat.context_window
        - pipeline.settings.max_answer_tokens
        - overhead
        - MARGIN_TOKENS
    )
    if budget < MIN_BUDGET_TOKENS:
        raise SummaryError(
            f"the context window ({pipeline.chat.context_window} tokens) leaves no room for "
            f"passages after {pipeline.settings.max_answer_tokens} answer tokens; raise "
            "CHATBOT_LLM_CONTEXT or lower CHATBOT_MAX_ANSWER_TOKENS"
        )
    return budget


def plan_batches(
    passages: Sequence[Passage], texts: Sequence[str], budget: int, sections: int = 1,
    guarded: bool = True,
) -> tuple[list[list[int]], list[str], list[str]]:
    """Split chunk indexes (in order) into `sections` runs of about equal size, then split any
    run whose formatted passages exceed `budget` tokens.

    Sections exist because a small model asked for N bullets over a dozen passages writes one
    bullet per passage or loops; one bullet per section covers the document by construction.
    Returns the batches, the (possibly trimmed) display texts and notes; a single chunk larger
    than the budget is trimmed on its own, never dropped.
    """
    shown = list(texts)
    notes: list[str] = []
    costs = []
    for i, p in enumerate(passages):
        # Counted as if it opened a batch (with its source line), the worst case.
        cost = estimate_tokens(passage_block(i + 1, p, shown[i], guarded=guarded) + "\n\n")
        if cost > budget:
            keep = max(len(shown[i]) - (cost - budget) * 3 - 3, 1)
            shown[i] = shown[i][:keep]
            cost = estimate_tokens(passage_block(i + 1, p, shown[i], guarded=guarded) + "\n\n")
            notes.append(
                f"chunk [{i + 1}] of {p.source} was cut to {keep} characters to fit the "
                "context window"
            )
        costs.append(cost)
    total = sum(costs) or 1
    runs: list[list[int]] = []
    done = 0
    for i, cost in enumerate(costs):
        section = min(sections - 1, (2 * done + cost) * sections // (2 * total))  # by midpoint
        if len(runs) <= section:
            runs.append([])
        runs[-1].append(i)
        done += cost
    batches: list[list[int]] = []
    for run in runs:
        current: list[int] = []
        used = 0
        for i in run:
            if current and used + costs[i] > budget:
                batches.append(current)
                current, used = [], 0
            current.append(i)
            used += costs[i]
        batches.append(current)
    return batches, shown, notes


def shares(bullets: int, batches: int) -> list[int]:
    """Bullets to ask of each map batch: `bullets` in all, at least one each."""
    if batches >= bullets:
        return [1] * batches
    return [bullets // batches + (1 if i < bullets % batches else 0) for i in range(batches)]
