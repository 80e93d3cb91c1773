from __future__ import annotations

import json

import pytest

from chatbot.answer import (
    ABSTENTION,
    AnswerError,
    Turn,
    ask,
    estimate_tokens,
    fit_context,
    focus,
    is_abstention,
    prepare,
    stream_answer,
)
from chatbot.config import Settings
from chatbot.models import Answer, Passage
from chatbot.pipeline import Pipeline

KEY = "sk-test-warm-0000"
QUESTION = "Which country does Xi visit before the SCO summit?"


def test_answer_cites_a_passage_that_is_an_exact_document_span(seeded: Pipeline) -> None:
    answer = ask(seeded, QUESTION)
    assert not answer.abstained
    assert "Kazakhstan" in answer.answer
    assert answer.citations
    for citation in answer.citations:
        document = seeded.index.document_text(citation.source)
        assert document is not None
        assert document[citation.start : citation.end] == citation.text
        assert citation.start <= citation.support_start < citation.support_end <= citation.end
    used = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", answer.answer)}
    assert used <= {c.n for c in answer.citations}


def test_json_shape(seeded: Pipeline) -> None:
    data = json.loads(json.dumps(ask(seeded, QUESTION).to_json()))
    assert {"question", "answer", "abstained", "citations", "model", "usage", "timings",
            "sentences"} <= data.keys()
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens"}
    assert {"retrieve_s", "first_token_s", "total_s"} <= data["timings"].keys()
    assert {"n", "source", "chunk_id", "text", "start", "end"} <= data["citations"][0].keys()
    assert data["sentences"][0]["supported"] is True


def test_streams_tokens_then_the_answer(seeded: Pipeline) -> None:
    items = list(stream_answer(seeded, QUESTION))
    assert isinstance(items[-1], Answer)
    tokens = [i for i in items if isinstance(i, str)]
    assert len(tokens) > 3
    assert items[-1].timings["first_token_s"] is not None


def test_model_abstention_has_no_citations(fake_settings: Settings, seed_dir: object) -> None:
    settings = fake_settings.with_overrides(fake_llm_replies=[ABSTENTION])
    pipeline = Pipeline.build(settings)
    pipeline.index.ingest([__import__("pathlib").Path("seeds")])
    answer = ask(pipeline, QUESTION)
    assert answer.abstained and answer.citations == [] and answer.answer == ABSTENTION


@pytest.mark.parametrize("reply", ["[2]", " [1].", "[1, 2]\n"])
def test_a_reply_of_only_markers_is_no_answer(
    fake_settings: Settings, seed_dir: object, reply: str
) -> None:
    pipeline = Pipeline.build(fake_settings.with_overrides(fake_llm_replies=[reply]))
    pipeline.index.ingest([__import__("pathlib").Path("seeds")])
    answer = ask(pipeline, QUESTION)
    assert answer.abstained and answer.citations == [] and answer.answer == ABSTENTION
    assert any("no answer text" in note for note in answer.notes)


def test_irrelevant_question_abstains_without_asking_the_model(seeded: Pipeline) -> None:
    answer = ask(seeded, "Quantum chromodynamics lattice gauge?")
    assert answer.abstained
    assert answer.citations == []
    assert any("relevance threshold" in note for note in answer.notes)
    assert answer.usage["completion_tokens"] == 0


def test_follow_up_is_rewritten_with_history(seeded: Pipeline) -> None:
    history = [Turn("When did Xi last visit Kazakhstan?", "In 2017 [1].")]
    answer = ask(seeded, "What did he attend then?", history)
    assert answer.standalone_question is not None
    assert "Kazakhstan" in answer.standalone_question


def test_limits(seeded: Pipeline) -> None:
    with pytest.raises(AnswerError, match="CHATBOT_MAX_QUESTION_CHARS"):
        ask(seeded, "x" * 5000)
    with pytest.raises(AnswerError, match="k must be"):
        ask(seeded, QUESTION, k=10**9)
    with pytest.raises(AnswerError, match="empty"):
        ask(seeded, "   ")


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ABSTENTION, True),
        ("The passages do not mention his age.", True),
        ("Xi visits Kazakhstan first [1].", False),
        ("Kazakhstan [1]. It is not mentioned when he returns, but the visit is long and "
         "significant for both sides as the passages explain at length in several places [2].",
         False),
    ],
)
def test_is_abstention(text: str, expected: bool) -> None:
    assert is_abstention(text) is expected


def test_passages_are_narrowed_by_rank(seeded: Pipeline) -> None:
    pipeline = Pipeline.build(seeded.settings.with_overrides(passage_chars=[200, 60]))
    prepared = prepare(pipeline, QUESTION, 3, "hybrid")
    ranked = pipeline.retriever.retrieve(QUESTION, 3, "hybrid")
    limit = {p.chunk_id: 200 if i == 0 else 60 for i, p in enumerate(ranked)}
    assert len(prepared.passages) == 3
    for passage in prepared.passages:
        assert 0 < len(passage.text) <= limit[passage.chunk_id]
        document = pipeline.index.document_text(passage.source)
        assert document is not None and document[passage.start : passage.end] == passage.text
