from __future__ import annotations

import json

import pytest

from chatbot import question_types
from chatbot.answer import (
    ABSTENTION,
    AnswerError,
    Turn,
    ask,
    is_abstention,
    prepare,
    stream_answer,
)
from chatbot.config import Settings
from chatbot.models import Answer
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


def test_the_question_type_hint_follows_the_question_unless_turned_off(seeded: Pipeline) -> None:
    question = "How many agreements did Xi sign?"
    hinted = prepare(seeded, question, 3, "hybrid").messages[-1].content
    assert isinstance(hinted, str)
    assert hinted.rstrip().endswith(f"Question: {question}\n{question_types.hint(question)}")
    plain = Pipeline.build(seeded.settings.with_overrides(question_hints=False))
    content = prepare(plain, question, 3, "hybrid").messages[-1].content
    assert isinstance(content, str) and content.rstrip().endswith(f"Question: {question}")


def test_an_answer_no_passage_supports_is_not_shown(
    fake_settings: Settings, seed_dir: object
) -> None:
    """The model invents a fact with no citation and no passage shares its words: abstain."""
    settings = fake_settings.with_overrides(fake_llm_replies=["The ratio of settlers was 1:1."])
    pipeline = Pipeline.build(settings)
    pipeline.index.ingest([__import__("pathlib").Path("seeds")])
    answer = ask(pipeline, QUESTION)
    assert answer.abstained and answer.answer == ABSTENTION and not answer.citations
    assert any("cited no passage" in note for note in answer.notes)
