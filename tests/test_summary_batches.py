"""Map batches: every chunk once, in order, within the token budget; bullets shared out."""

from __future__ import annotations

import pytest

from chatbot.context import format_passages
from chatbot.pipeline import Pipeline
from chatbot.summarize import display_texts, read_chunks
from chatbot.summary_batches import map_budget, plan_batches, shares

SEED = "seeds/xi-kazakhstan-visit.txt"


def _pipeline(seeded: Pipeline, **overrides: object) -> Pipeline:
    return Pipeline.build(seeded.settings.with_overrides(**overrides))


@pytest.mark.parametrize(("context", "sections"), [(1024, 1), (1024, 3), (4096, 1), (4096, 5)])
def test_batches_cover_every_chunk_once_in_order_within_budget(
    seeded: Pipeline, context: int, sections: int
) -> None:
    pipeline = _pipeline(seeded, llm_context=context)
    passages = read_chunks(pipeline.index, [SEED])
    texts = display_texts(passages)
    budget = map_budget(pipeline, 5)
    batches, shown, notes = plan_batches(passages, texts, budget, sections)

    assert [i for batch in batches for i in batch] == list(range(len(passages)))
    assert all(batches) and notes == []
    assert len(batches) >= sections
    if context == 4096:  # the whole article fits: one batch per section
        assert len(batches) == sections
    for batch in batches:
        block = format_passages([passages[i] for i in batch], [shown[i] for i in batch])
        assert len(block) // 3 + 1 <= budget
    starts = [p.start for p in passages]
    assert starts == sorted(starts)


def test_shares_ask_for_the_requested_bullets_in_all() -> None:
    assert shares(5, 1) == [5]
    assert shares(5, 3) == [2, 2, 1]
    assert shares(5, 5) == [1] * 5
    assert shares(2, 7) == [1] * 7


def test_oversized_chunk_is_trimmed_not_dropped(seeded: Pipeline) -> None:
    pipeline = _pipeline(seeded, llm_context=512, max_answer_tokens=16)
    passages = read_chunks(pipeline.index, [SEED])
    budget = map_budget(pipeline, 5)
    huge = ["word " * 2000] * len(passages)
    batches, shown, notes = plan_batches(passages, huge, budget)

    assert len(batches) == len(passages)
    assert len(notes) == len(passages) and "was cut" in notes[0]
    assert all(0 < len(text) < len(huge[0]) for text in shown)
    for i, text in enumerate(shown):
        assert len(format_passages([passages[i]], [text])) // 3 + 1 <= budget
