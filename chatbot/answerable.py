"""Decide, before an answer is written, whether the passages can answer the question.

Cheapest first. The relevance gate uses retrieval scores only (no model call): the best dense
cosine similarity, and with hybrid retrieval the best fused score, which also counts how much
of the question, weighted by rarity, a passage matches. On-topic questions whose answer is not
in the corpus still retrieve passages about the right subject, so the dense score alone lets
most of them through; the fused score stops far more of them (docs/benchmarks.md).

The optional model check (`CHATBOT_ANSWER_CHECK`) then asks the chat model one short question
about the same prompt: do the passages state the answer? The reply is constrained to
`{"answerable": true|false}` with a JSON schema where the server supports `response_format`
(llama.cpp, vLLM, OpenAI); a server that rejects it is asked the same in plain text from then
on, and a reply that says neither lets the answer stage decide as before. The check's prompt
starts with the answer prompt, so a server that keeps processed prompts only reads its last line
twice.
"""

from __future__ import annotations

import json
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
_VERDICT = re.compile(r'"?answerable"?\s*:\s*(true|false)', re.I)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.I)


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
    """The model check's result: None when the reply said neither yes nor no."""

    answerable: bool | None
    seconds: float
    structured: bool


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


def check_messages(messages: Sequence[BaseMessage], settings: Settings) -> list[BaseMessage]:
    """The answer prompt with the check's instruction after the question (same prefix)."""
    *head, last = messages
    instruction = load_prompt("answer_check", settings.prompts_dir).format().strip()
    return [*head, HumanMessage(f"{last.content}\n\n{instruction}")]


def model_check(
    pipeline: Pipeline,
    messages: Sequence[BaseMessage],
    deadline: Deadline | None = None,
    status: StatusFn | None = None,
) -> Verdict:
    """Ask the chat model whether the passages in `messages` state the answer."""
    import openai

    settings, chat = pipeline.settings, pipeline.chat
    asked = check_messages(messages, settings)
    model = chat.model.bind(max_completion_tokens=CHECK_TOKENS)
    started = time.perf_counter()
    structured = chat.structured_output
    try:
        options = {"response_format": CHECK_FORMAT} if structured else {}
        reply = invoke_model(settings, model, asked, deadline=deadline, status=status, **options)
    except ModelServiceError as exc:
        cause = exc.__cause__
        cut_off = openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError
        if isinstance(cause, cut_off):
            # The structured reply was cut off (a verbose model) or withheld: no verdict.
            return Verdict(None, round(time.perf_counter() - started, 4), structured)
        if not (structured and isinstance(cause, openai.BadRequestError)):
            raise
        chat.structured_output = structured = False  # this server rejects response_format
        reply = invoke_model(settings, model, asked, deadline=deadline, status=status)
    text = reply.content if isinstance(reply.content, str) else ""
    return Verdict(parse_verdict(text), round(time.perf_counter() - started, 4), structured)
