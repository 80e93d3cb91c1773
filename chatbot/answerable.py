"""Decide, before an answer is written, whether the passages can answer the question.

Cheapest first. The relevance gate uses retrieval scores only (no model call): the best dense
cosine similarity, and with hybrid retrieval the best fused score, which also counts how much
of the question, weighted by rarity, a passage matches. On-topic questions whose answer is not
in the corpus still retrieve passages about the right subject, so the dense score alone lets
most of them through; the fused score stops far more of them (docs/benchmarks.md).

The model check (`CHATBOT_ANSWER_CHECK`) then asks the chat model one short question about the
same prompt: do the passages state the answer? Where the server returns logprobs (llama.cpp,
vLLM, OpenAI) it is a yes/no question and the verdict is the model's probability of "yes"
against a threshold (`CHATBOT_ANSWER_CHECK_MIN_YES`, 0.5); elsewhere the reply is
constrained to `{"answerable": true|false}` with a JSON schema where the server supports
`response_format`, or asked in plain text. A reply that says neither lets the answer stage
decide. The check's prompt starts with the answer prompt, so a server that keeps processed
prompts only reads its last line twice.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from chatbot.config import Settings
from chatbot.model_calls import Deadline, StatusFn
from chatbot.model_calls import invoke as invoke_model
from chatbot.models import Passage
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt
from chatbot.service_errors import ModelServiceError

#: The reply the model check asks for.
CHECK_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "answerable",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"answerable": {"type": "boolean"}},
            "required": ["answerable"],
            "additionalProperties": False,
        },
    },
}
#: Enough for the JSON reply with some whitespace, or a plain "yes"/"no" sentence.
CHECK_TOKENS = 24
#: The yes/no question needs its first word only (its probability is read from logprobs).
YES_NO_TOKENS = 2
_VERDICT = re.compile(r'"?answerable"?\s*:\s*(true|false)', re.I)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.I)
_WORDS = {"true": True, "yes": True, "false": False, "no": False}


def relevance_gate(passages: Sequence[Passage], mode: str, settings: Settings) -> str | None:
    """Why the model should not be asked (a note for the answer), or None to go on."""
    if not passages:
        return "no passage was retrieved; the model was not asked"
    if mode == "bm25":
        return None
    best_dense = max(p.scores.get("dense", 0.0) for p in passages)
    if best_dense < (settings.min_relevance or 0.0):
        return (
            f"no passage reached the relevance threshold {settings.min_relevance} "
            f"(best {best_dense:.2f}); the model was not asked"
        )
    best_fused = max(p.score for p in passages)
    if mode == "hybrid" and best_fused < (settings.min_hybrid_score or 0.0):
        return (
            f"no passage reached the hybrid score threshold {settings.min_hybrid_score} "
            f"(best {best_fused:.2f}); the model was not asked"
        )
    return None


@dataclass
class Verdict:
    """The model check's result: None when the reply said neither yes nor no. `p_yes` is the
    model's probability of "answerable" where the server returned logprobs."""

    answerable: bool | None
    seconds: float
    structured: bool
    p_yes: float | None = None


def parse_verdict(text: str) -> bool | None:
    """`{"answerable": false}` (also inside other text), or a reply starting with yes/no."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("answerable"), bool):
        return bool(data["answerable"])
    found = _VERDICT.search(text) or _YES_NO.search(text)
    return found.group(1).lower() in ("true", "yes") if found else None


def yes_probability(logprobs: Any) -> float | None:
    """P(true) / (P(true) + P(false)) at the first reply token that is the verdict (`true`,
    `false`, `yes` or `no`), from the top alternatives the server reported there; None when
    the reply carries no usable logprobs."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    for token in content if isinstance(content, list) else []:
        if not isinstance(token, dict) or _word(token) is None:
            continue
        mass = {True: 0.0, False: 0.0}
        alternatives = token.get("top_logprobs")
        for alt in alternatives if isinstance(alternatives, list) and alternatives else [token]:
            word = _word(alt) if isinstance(alt, dict) else None
            logprob = alt.get("logprob") if isinstance(alt, dict) else None
            if word is not None and isinstance(logprob, int | float) and logprob <= 0:
                mass[word] += math.exp(logprob)
        total = mass[True] + mass[False]
        return mass[True] / total if total > 0 else None
    return None


def _word(token: dict[str, Any]) -> bool | None:
    return _WORDS.get(str(token.get("token", "")).strip().lower())


def after_question(messages: Sequence[BaseMessage], line: str) -> list[BaseMessage]:
    """The answer prompt with `line` after the question: the same prefix, so a server that
    keeps processed prompts reuses it."""
    *head, last = messages
    return [*head, HumanMessage(f"{str(last.content).rstrip()}\n\n{line}")]


def check_messages(
    messages: Sequence[BaseMessage], settings: Settings, prompt: str = "answer_check"
) -> list[BaseMessage]:
    """The answer prompt with the check's instruction after the question (same prefix)."""
    instruction = load_prompt(prompt, settings.prompts_dir).format().strip()
    return after_question(messages, instruction)


def model_check(
    pipeline: Pipeline,
    messages: Sequence[BaseMessage],
    deadline: Deadline | None = None,
    status: StatusFn | None = None,
) -> Verdict:
    """Ask the chat model whether the passages in `messages` state the answer.

    Where the server returns logprobs, the model is asked for a plain yes or no and the verdict
    is its probability of "yes" against `answer_check_min_yes`; otherwise it is the model's own
    answer to the JSON-schema question (docs/benchmarks.md: the yes/no probability separates
    answerable from unanswerable questions; the JSON reply's sat near 0.5 even for answerable
    ones)."""
    settings, chat = pipeline.settings, pipeline.chat
    started = time.perf_counter()
    reply = _ask_check(pipeline, messages, deadline, status)
    seconds = round(time.perf_counter() - started, 4)
    if reply is None:  # cut off or withheld: no verdict
        return Verdict(None, seconds, chat.structured_output)
    text = reply.content if isinstance(reply.content, str) else ""
    p_yes = yes_probability(reply.response_metadata.get("logprobs"))
    if p_yes is None:
        if chat.logprobs:
            chat.logprobs = False  # none came back: the JSON-schema question from now on
        return Verdict(parse_verdict(text), seconds, chat.structured_output)
    answerable = p_yes >= settings.answer_check_min_yes
    return Verdict(answerable, seconds, False, round(p_yes, 4))


def _ask_check(
    pipeline: Pipeline,
    messages: Sequence[BaseMessage],
    deadline: Deadline | None,
    status: StatusFn | None,
) -> Any:
    """The check's reply: a yes/no question with logprobs while the server gives them, else
    the JSON-schema question (plain text where `response_format` is refused). A server that
    refuses either (HTTP 400) is not asked that way again. None when the reply was cut off
    at the token limit or withheld."""
    import openai

    settings, chat = pipeline.settings, pipeline.chat
    while True:
        extra: dict[str, Any] = {}
        if chat.logprobs:
            asked = check_messages(messages, settings, "answer_check_yes_no")
            model = chat.model.bind(
                max_completion_tokens=YES_NO_TOKENS, logprobs=True, top_logprobs=5
            )
        else:
            asked = check_messages(messages, settings)
            model = chat.model.bind(max_completion_tokens=CHECK_TOKENS)
            if chat.structured_output:
                extra = {"response_format": CHECK_FORMAT}
        try:
            return invoke_model(settings, model, asked, deadline=deadline, status=status, **extra)
        except ModelServiceError as exc:
            cause = exc.__cause__
            cut_off = openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError
            if isinstance(cause, cut_off):
                return None
            if not isinstance(cause, openai.BadRequestError):
                raise
            if chat.logprobs:
                chat.logprobs = False
            elif chat.structured_output:
                chat.structured_output = False
            else:
                raise
