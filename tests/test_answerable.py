from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fault_server import FaultServer
from hypothesis import given
from hypothesis import strategies as st

from chatbot.answer import ask
from chatbot.answerable import CHECK_FORMAT, parse_verdict, relevance_gate, yes_probability
from chatbot.config import Settings
from chatbot.fakes import FakeChatModel
from chatbot.models import Passage
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt

QUESTION = "Which country does Xi visit before the SCO summit?"
CHECK = load_prompt("answer_check").format()


def _passage(dense: float, fused: float) -> Passage:
    return Passage("c1", "a.txt", "text", 0, 4, fused, None, {"dense": dense})


def test_the_hybrid_gate_stops_weak_fused_scores_in_hybrid_mode_only() -> None:
    settings = Settings(llm_provider="fake", embeddings_provider="fake", min_relevance=0.3,
                        min_hybrid_score=0.4, _env_file=None)  # type: ignore[call-arg]
    weak = [_passage(dense=0.5, fused=0.39)]
    note = relevance_gate(weak, "hybrid", settings)
    assert note is not None and "hybrid score threshold 0.4" in note and "0.39" in note
    assert relevance_gate(weak, "dense", settings) is None
    assert relevance_gate([_passage(dense=0.5, fused=0.41)], "hybrid", settings) is None
    low_dense = relevance_gate([_passage(dense=0.2, fused=0.9)], "hybrid", settings)
    assert low_dense is not None and "relevance threshold 0.3" in low_dense
    assert relevance_gate([_passage(dense=0.0, fused=0.0)], "bm25", settings) is None
    assert relevance_gate([], "bm25", settings) is not None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"answerable": true}', True),
        ('{ "answerable" : false }', False),
        ('Sure: {"answerable": false}', False),
        ("No, the passages do not say.", False),
        ("Yes.", True),
        ("The passages mention Kazakhstan.", None),
        ('{"answerable": "maybe"}', None),
        ("", None),
    ],
)
def test_parse_verdict(reply: str, expected: bool | None) -> None:
    assert parse_verdict(reply) is expected


@given(st.text())
def test_parse_verdict_never_raises(text: str) -> None:
    assert parse_verdict(text) in (True, False, None)


@given(st.booleans(), st.sampled_from(["", " ", "\n", "  \n "]))
def test_parse_verdict_reads_any_json_layout(value: bool, space: str) -> None:
    text = f"{space}{{{space}\"answerable\"{space}:{space}{json.dumps(value)}{space}}}{space}"
    assert parse_verdict(text) is value


# --- the model check against an OpenAI-compatible server -------------------------------------
YES_NO = load_prompt("answer_check_yes_no").format().strip()


def _check_kind(body: dict[str, Any]) -> str:
    """Which check a request is: "yes_no", "json", or "" (the answer itself)."""
    last = str(body["messages"][-1]["content"])
    return "yes_no" if last.endswith(YES_NO) else "json" if last.endswith(CHECK.strip()) else ""


def _server_pipeline(seeded: Pipeline, server: FaultServer, **overrides: Any) -> Pipeline:
    settings = seeded.settings.with_overrides(
        llm_provider="openai", openai_base_url=server.base_url, openai_api_key="sk-test-check",
        request_timeout=5.0, max_retries=0, answer_check=True, **overrides,
    )
    return Pipeline.build(settings)


def _larger_model(yes_no: str, json_verdict: str = "") -> Any:
    """Replies the way a larger instruct model does: a verdict to either check, or a
    two-sentence answer."""

    def reply(body: dict[str, Any]) -> str:
        kind = _check_kind(body)
        if kind:
            return yes_no if kind == "yes_no" else json_verdict
        return ("Xi visits Kazakhstan before the summit [1]. The trip comes before the SCO "
                "meeting in Uzbekistan [1].")

    return reply


def test_a_no_from_the_check_abstains_without_writing_an_answer(seeded: Pipeline) -> None:
    with FaultServer(["ok"], reply=_larger_model("No"), yes_probability=0.1) as server:
        answer = ask(_server_pipeline(seeded, server), QUESTION)
    assert answer.abstained and not answer.citations
    assert any("model check found no answer" in note for note in answer.notes)
    assert len(server.requests) == 1  # the answer itself was never requested
    body = server.requests[0].body
    assert _check_kind(body) == "yes_no" and "response_format" not in body
    assert body["logprobs"] is True and body["top_logprobs"] >= 2
    assert body["max_completion_tokens"] <= 4
    # The check's prompt is the answer prompt plus one line, so a server's prefix cache holds.
    assert str(body["messages"][-1]["content"]).startswith("Passages:")


def test_a_yes_from_the_check_lets_the_answer_through(seeded: Pipeline) -> None:
    with FaultServer(["ok"], reply=_larger_model("Yes"), yes_probability=0.9) as server:
        answer = ask(_server_pipeline(seeded, server), QUESTION)
    assert not answer.abstained and answer.citations
    assert "Kazakhstan" in answer.answer and "check_s" in answer.timings
    check, written = (r.body for r in server.requests)
    assert _check_kind(check) == "yes_no" and _check_kind(written) == ""
    assert "response_format" not in written and "logprobs" not in written
    assert written["stream"] is True


@pytest.mark.parametrize(("p_yes", "min_yes", "abstains"), [(0.55, 0.6, True), (0.65, 0.6, False),
                                                             (0.45, 0.4, False), (0.3, 0.5, True)])
def test_the_probability_of_yes_decides_against_the_threshold(
    seeded: Pipeline, p_yes: float, min_yes: float, abstains: bool
) -> None:
    """The reply's own word says "Yes"; the server's probability decides."""
    with FaultServer(["ok"], reply=_larger_model("Yes"), yes_probability=p_yes) as server:
        pipeline = _server_pipeline(seeded, server, answer_check_min_yes=min_yes)
        answer = ask(pipeline, QUESTION)
    assert answer.abstained is abstains


def test_a_server_without_logprobs_gets_the_json_question_from_then_on(seeded: Pipeline) -> None:
    with FaultServer(["ok"], reply=_larger_model("No.", '{"answerable": false}')) as server:
        pipeline = _server_pipeline(seeded, server, answer_check_min_yes=0.1)
        first = ask(pipeline, QUESTION)  # no logprobs came back: its "No." decides
        second = ask(pipeline, QUESTION)
    assert first.abstained and second.abstained
    assert pipeline.chat.logprobs is False and pipeline.chat.structured_output is True
    assert [_check_kind(r.body) for r in server.requests] == ["yes_no", "json"]
    assert server.requests[1].body["response_format"] == CHECK_FORMAT


def test_a_server_that_refuses_logprobs_and_response_format_is_asked_in_plain_text(
    seeded: Pipeline,
) -> None:
    with FaultServer(
        ["ok"], reply=_larger_model("No.", "No. The passages do not say."),
        reject_logprobs=True, reject_response_format=True,
    ) as server:
        pipeline = _server_pipeline(seeded, server)
        first = ask(pipeline, QUESTION)
        second = ask(pipeline, QUESTION)
    assert first.abstained and second.abstained
    assert pipeline.chat.logprobs is False and pipeline.chat.structured_output is False
    sent = [(_check_kind(r.body), "response_format" in r.body) for r in server.requests]
    # Each refusal once, then the plain question; never again after that.
    assert sent == [("yes_no", False), ("json", True), ("json", False), ("json", False)]


def test_an_unclear_check_reply_leaves_the_decision_to_the_answer(seeded: Pipeline) -> None:
    with FaultServer(["ok"], reply=_larger_model("It depends.", "It depends.")) as server:
        answer = ask(_server_pipeline(seeded, server), QUESTION)
    assert not answer.abstained and answer.citations
    assert any("neither yes nor no" in note for note in answer.notes)


def test_the_fake_model_answers_the_check_without_using_canned_replies(
    seeded: Pipeline,
) -> None:
    pipeline = Pipeline.build(seeded.settings.with_overrides(answer_check=True))
    answer = ask(pipeline, QUESTION)
    model = pipeline.chat.model
    assert isinstance(model, FakeChatModel) and model.calls == 2
    assert not answer.abstained and "Kazakhstan" in answer.answer


def test_answer_checks_leave_the_canned_replies_in_order(seeded: Pipeline) -> None:
    settings = seeded.settings.with_overrides(
        answer_check=True, fake_llm_replies=["First [1].", "Second [1]."]
    )
    pipeline = Pipeline.build(settings)
    answers = [ask(pipeline, QUESTION).answer for _ in range(2)]
    assert [a.split(" [")[0] for a in answers] == ["First", "Second"]


def test_a_check_reply_cut_off_at_the_token_limit_leaves_the_decision_to_the_answer(
    seeded: Pipeline,
) -> None:
    rambling = "Let me look at each passage in turn before I decide. " * 5 + '{"answerable": false}'
    with FaultServer(["ok"], reply=_larger_model(rambling, rambling)) as server:
        pipeline = _server_pipeline(seeded, server)
        answers = [ask(pipeline, QUESTION) for _ in range(2)]  # yes/no, then JSON
    for answer in answers:
        assert not answer.abstained and answer.citations
        assert any("neither yes nor no" in note for note in answer.notes)
    assert len(server.requests) == 4


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ([{"token": "{\"", "logprob": 0.0, "top_logprobs": []},
          {"token": " true", "logprob": -0.1,
           "top_logprobs": [{"token": " true", "logprob": math.log(0.6)},
                            {"token": " false", "logprob": math.log(0.2)},
                            {"token": "true", "logprob": math.log(0.1)}]}], 0.7 / 0.9),
        ([{"token": "No", "logprob": -0.2,
           "top_logprobs": [{"token": "No", "logprob": math.log(0.75)},
                            {"token": "Yes", "logprob": math.log(0.25)}]}], 0.25),
        ([{"token": "Maybe", "logprob": 0.0, "top_logprobs": []}], None),
        ([], None),
    ],
)
def test_yes_probability(content: list[dict[str, Any]], expected: float | None) -> None:
    found = yes_probability({"content": content})
    assert found == (None if expected is None else pytest.approx(expected))


_ODD = st.recursive(
    st.none() | st.booleans() | st.floats() | st.sampled_from(["true", " no", "x"]),
    lambda c: st.lists(c, max_size=3)
    | st.dictionaries(st.sampled_from(["content", "token", "logprob", "top_logprobs"]), c,
                      max_size=4),
)


@given(_ODD)
def test_yes_probability_never_raises_on_odd_server_replies(logprobs: Any) -> None:
    found = yes_probability({"content": logprobs})
    assert found is None or 0.0 <= found <= 1.0
    assert yes_probability(logprobs) is None or isinstance(logprobs, dict)
