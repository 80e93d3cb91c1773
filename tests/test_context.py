"""The answer prompt's context: narrowing, budgeting, grouping and formatting passages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatbot.context import estimate_tokens, fit_context, focus
from chatbot.models import Passage


def _passage(n: int, size: int) -> Passage:
    text = ("word " * (size // 5)).strip()
    return Passage(f"c{n}", f"s{n}", text, 0, len(text), 1.0 / n)


def test_context_budget_drops_lowest_ranked_then_trims() -> None:
    passages = [_passage(1, 900), _passage(2, 900), _passage(3, 900)]
    kept, notes, _ = fit_context(passages, "q?", budget=500)
    assert [p.chunk_id for p in kept] == ["c1"]
    assert len([n for n in notes if "dropped" in n]) == 2
    kept, notes, messages = fit_context(passages, "q?", budget=250)
    assert kept[0].chunk_id == "c1" and len(kept[0].text) < 900
    assert sum(estimate_tokens(str(m.content)) for m in messages) <= 250
    assert kept[0].text in str(messages[-1].content) and "[2]" not in str(messages[-1].content)
    assert kept[0].end - kept[0].start == len(kept[0].text)
    assert any("trimmed" in n for n in notes)
    kept, notes, _ = fit_context(passages, "q?", budget=10_000)
    assert len(kept) == 3 and notes == []


def test_prompt_groups_passages_by_source_in_reading_order() -> None:
    ranked = [
        Passage("c3", "b.txt", "beta two", 50, 58, 0.9),
        Passage("c1", "a.txt", "alpha", 0, 5, 0.8),
        Passage("c2", "b.txt", "beta one", 0, 8, 0.7),
        Passage("c4", "b.txt", "x " * 400, 10, 810, 0.1),  # lowest ranked: dropped first
    ]
    kept, notes, messages = fit_context(ranked, "q?", budget=200)
    # b.txt holds the best passage, so it comes first; its passages in document order.
    assert [p.chunk_id for p in kept] == ["c2", "c3", "c1"] and len(notes) == 1
    passages = str(messages[-1].content).split("Question:")[0].strip()
    assert passages == (
        "Passages:\nSource: b.txt\n[1] beta one\n\n[2] beta two\n\nSource: a.txt\n[3] alpha"
    )


def test_focus_counts_shared_terms_and_breaks_ties_by_rarity() -> None:
    text = (
        "Tokayev said Xi will visit Kazakhstan. "
        "It is, after five years, the fourth time that he will come to the country. "
        "Xi will visit Kazakhstan and come to Astana on this visit in time."
    )
    passage = Passage("c1", "a.txt", text, 100, 100 + len(text), 1.0)
    question = "How many times has Xi come to Kazakhstan on a visit?"
    weights = {"xi": 0.1, "kazakhstan": 0.1, "visit": 0.2, "time": 2.0, "come": 1.5}
    # Most shared terms wins (the third sentence shares all five).
    assert focus(passage, question, 70, weights).text.startswith("Xi will visit Kazakhstan and")
    # Without it, two sentences share two or three terms; rarity picks "time" + "come"
    # over the more numerous but common "xi" + "visit" + "kazakhstan" only on a tie.
    two = Passage("c1", "a.txt", text[:115], 100, 215, 1.0)
    assert focus(two, question, 60, weights).text == "Tokayev said Xi will visit Kazakhstan."
    tie = "Tokayev will visit Kazakhstan. It is the fourth time that he will come to the country."
    tied = Passage("c2", "a.txt", tie, 0, len(tie), 1.0)
    narrowed = focus(tied, question, 60, weights)
    assert narrowed.text == "It is the fourth time that he will come to the country."
    assert tie[narrowed.start : narrowed.end] == narrowed.text  # exact offsets
    assert focus(tied, question, 500, weights) == tied  # short enough: unchanged


def test_estimate_is_conservative() -> None:
    assert estimate_tokens("a" * 300) >= 100


_sentence = st.text(alphabet="abcdefgh ", min_size=3, max_size=40).map(
    lambda t: t.strip().capitalize() + "."
)


@given(st.lists(_sentence, min_size=1, max_size=8), st.integers(min_value=10, max_value=200),
       st.integers(min_value=0, max_value=50))
def test_focus_returns_an_exact_span_within_the_limit(
    sentences: list[str], limit: int, offset: int
) -> None:
    text = " ".join(sentences)
    passage = Passage("c1", "a.txt", text, offset, offset + len(text), 1.0)
    narrowed = focus(passage, "abc def?", limit)
    assert text[narrowed.start - offset : narrowed.end - offset] == narrowed.text
    assert len(narrowed.text) <= max(limit, 0) or narrowed == passage
