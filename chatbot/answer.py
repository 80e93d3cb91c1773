"""ask(question, history) -> Answer: condense, retrieve, budget the prompt, stream, check citations.

`stream_answer` yields text tokens as they arrive and finally the checked `Answer`, so the CLI
and the app show the same thing; `ask` is the non-streaming wrapper.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage

from chatbot import guard, markers, question_types
from chatbot.answerable import model_check, relevance_gate
from chatbot.citations import check
from chatbot.config import Settings
from chatbot.context import fit_context, focus
from chatbot.errors import InvalidRequestError
from chatbot.index import UnknownSourceError
from chatbot.model_calls import Deadline, StatusFn
from chatbot.model_calls import invoke as invoke_model
from chatbot.model_calls import stream as stream_model
from chatbot.models import Answer, Passage, Turn
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt
from chatbot.sentences import sentence_spans

ABSTENTION = "I could not find this in the documents."
_ABSTAIN = re.compile(
    r"(could not|couldn't|cannot|can't|can not|unable to) (find|answer|determine|be found)"
    r"|(do|does|did) not (contain|mention|say|provide|include|specify)"
    r"|(don't|doesn't|didn't) (contain|mention|say|provide|include|specify)"
    r"|no (information|mention|answer)|not (mentioned|provided|stated|specified|in the)",
    re.I,
)


class AnswerError(InvalidRequestError):
    """A user-facing failure (bad question, model service down); the message says what to do."""


def is_abstention(text: str) -> bool:
    """The model said the passages don't answer (and did not go on to answer anyway)."""
    stripped = text.strip()
    if stripped.lower().startswith(ABSTENTION.lower().rstrip(".")):
        return True
    spans = sentence_spans(stripped, lines=True)
    first_sentence = stripped[spans[0][0] : spans[0][1]] if spans else stripped
    return bool(_ABSTAIN.search(first_sentence)) and not markers.has_marker(stripped)


def condense(
    pipeline: Pipeline,
    question: str,
    history: Sequence[Turn],
    deadline: Deadline | None = None,
    status: StatusFn | None = None,
    notes: list[str] | None = None,
) -> str:
    """Rewrite a follow-up into a standalone question using the recent conversation.

    Earlier answers may quote a planted instruction, so each is shown on one line (it cannot
    forge a "User:" turn) with instruction sentences withheld, and a rewrite that follows one
    (`guard.rewrite_problem`) is discarded for the question as asked, with a note."""
    if not history:
        return question
    guarded = pipeline.settings.injection_guard
    lines = []
    said = []
    for turn in history[-3:]:
        if not guarded:  # the measured baseline: the conversation as it was written
            lines += [f"User: {turn.question}", "Assistant: " + markers.strip(turn.answer)[:300]]
            continue
        answer = " ".join(markers.strip(turn.answer).split())[:300]
        said.append(answer)
        lines.append("User: " + " ".join(turn.question.split()))
        lines.append("Assistant: " + guard.defuse(guard.withhold(answer).text))
    template = load_prompt("condense", pipeline.settings.prompts_dir)
    prompt = template.format(history="\n".join(lines), question=question)
    reply = invoke_model(
        pipeline.settings, pipeline.chat.model, [HumanMessage(prompt)],
        deadline=deadline, status=status,
    )
    rewritten = str(reply.content).strip().strip('"').splitlines()
    if not rewritten or not rewritten[0].strip():
        return question
    if not guarded:
        return rewritten[0].strip()
    asked = [question, *(turn.question for turn in history)]
    problem = guard.rewrite_problem(rewritten[0].strip(), said, asked, template.template)
    if problem is None:
        return rewritten[0].strip()
    if notes is not None:
        notes.append(problem)
    return question


def _cost(pipeline: Pipeline, usage: dict[str, int]) -> float | None:
    prices = pipeline.settings.prices_per_million.get(pipeline.chat.name)
    if pipeline.chat.provider != "openai" or prices is None:
        return None
    return (usage["prompt_tokens"] * prices[0] + usage["completion_tokens"] * prices[1]) / 1e6


class _Reply:
    """Collects the streamed message chunks (for the usage count) while passing on the text."""

    def __init__(self) -> None:
        self.full: AIMessageChunk | None = None
        self.text = ""

    def tokens(self, chunks: Iterator[object]) -> Iterator[str]:
        for chunk in chunks:
            if not isinstance(chunk, AIMessageChunk):
                continue
            self.full = chunk if self.full is None else self.full + chunk
            if isinstance(chunk.content, str) and chunk.content:
                self.text += chunk.content
                yield chunk.content


@dataclass
class Prepared:
    """What the model is asked: the passages as shown (narrowed, budgeted, in prompt order) and
    the messages; no messages when retrieval found nothing relevant enough to ask about."""

    passages: list[Passage]
    messages: list[BaseMessage]
    notes: list[str]


def prepare(
    pipeline: Pipeline,
    standalone: str,
    k: int,
    mode: str,
    sources: list[str] | None = None,
    mmr: bool | None = None,
) -> Prepared:
    """Retrieve, gate on relevance, narrow each chunk and fit the prompt to the context window."""
    settings = pipeline.settings
    use_mmr = settings.mmr if mmr is None else mmr
    passages = pipeline.retriever.retrieve(
        standalone, k, mode, sources, mmr_lambda=settings.mmr_lambda if use_mmr else None
    )
    gated = relevance_gate(passages, mode, settings)
    if gated:
        return Prepared([], [], [gated])
    budget = pipeline.chat.context_window - settings.max_answer_tokens - 64
    if any(settings.passage_chars):
        weights = pipeline.retriever.term_weights(standalone)
        limits = settings.passage_chars
        passages = [
            focus(p, standalone, limits[min(i, len(limits) - 1)], weights)
            for i, p in enumerate(passages)
        ]
    hint = question_types.hint(standalone, settings.prompts_dir) if settings.question_hints else ""
    kept, notes, messages = fit_context(
        passages, standalone, budget, settings.prompts_dir, settings.injection_guard, hint
    )
    return Prepared(kept, messages, notes)


def _check_first(
    pipeline: Pipeline,
    prepared: Prepared,
    answer: Answer,
    deadline: Deadline,
    status: StatusFn | None,
) -> None:
    """The model check (`answer_check`); when it finds no answer, the messages are cleared so
    none is written."""
    verdict = model_check(pipeline, prepared.messages, deadline, status)
    answer.timings["check_s"] = verdict.seconds
    if verdict.answerable is False:
        answer.notes.append(
            "the model check found no answer in the passages; the answer was not written"
        )
        prepared.messages = []
    elif verdict.answerable is None:
        answer.notes.append("the model check's reply was neither yes nor no; answered anyway")


def stream_answer(
    pipeline: Pipeline,
    question: str,
    history: Sequence[Turn] = (),
    *,
    k: int | None = None,
    sources: list[str] | None = None,
    mode: str | None = None,
    mmr: bool | None = None,
    status: StatusFn | None = None,
) -> Iterator[str | Answer]:
    """Yield answer tokens, then the final checked `Answer`.

    `k`, `sources` (only these indexed sources), `mode` and `mmr` override the settings for
    this question. One `CHATBOT_REQUEST_TIMEOUT` deadline covers the model calls up to the
    first token; `status` hears about retries and a slow service while they happen.
    """
    settings = pipeline.settings
    question, k = _validated(settings, question, k)
    started = time.perf_counter()
    deadline = Deadline(settings.request_timeout)
    answer, prepared = _retrieve(
        pipeline, question, history, k, sources, mode, mmr, deadline, status
    )
    answer.timings["retrieve_s"] = round(time.perf_counter() - started, 4)
    if prepared.messages and settings.answer_check:
        _check_first(pipeline, prepared, answer, deadline, status)
    if not prepared.messages:
        answer.timings["total_s"] = round(time.perf_counter() - started, 4)
        yield ABSTENTION
        yield answer
        return
    chat = pipeline.chat
    passages, messages = prepared.passages, prepared.messages
    screen = None
    if settings.injection_guard:
        screen = _screen(settings, answer, passages, messages, history)
    reply = _Reply()
    chunks = reply.tokens(
        stream_model(settings, chat.model, messages, deadline=deadline, status=status)
    )
    for piece in chunks if screen is None else guard.screen_stream(chunks, screen):
        if piece:
            if answer.timings["first_token_s"] is None:
                answer.timings["first_token_s"] = round(time.perf_counter() - started, 4)
            yield piece
    text = reply.text if screen is None else guard.screen_text(reply.text, screen, answer.notes)
    _finish(pipeline, answer, reply, text, passages)
    answer.timings["total_s"] = round(time.perf_counter() - started, 4)
    yield answer


def _retrieve(
    pipeline: Pipeline,
    question: str,
    history: Sequence[Turn],
    k: int,
    sources: list[str] | None,
    mode: str | None,
    mmr: bool | None,
    deadline: Deadline,
    status: StatusFn | None,
) -> tuple[Answer, Prepared]:
    """Condense, resolve the sources and prepare the prompt; the `Answer` starts as the
    abstention, with the notes so far."""
    settings = pipeline.settings
    if history:
        _ = pipeline.chat  # setup errors (missing key, bad GGUF) are not service failures
    condense_notes: list[str] = []
    standalone = condense(pipeline, question, history, deadline, status, condense_notes)
    if sources:
        try:
            sources = pipeline.index.resolve_sources(sources)
        except UnknownSourceError as exc:
            raise AnswerError(str(exc)) from exc
    prepared = prepare(pipeline, standalone, k, mode or settings.retriever, sources, mmr)
    answer = Answer(
        question=question,
        answer=ABSTENTION,
        abstained=True,
        citations=[],
        model=settings.chat_model,
        standalone_question=standalone if history else None,
        notes=[*condense_notes, *prepared.notes],
    )
    return answer, prepared


def _screen(
    settings: Settings, answer: Answer, passages: Sequence[Passage],
    messages: Sequence[BaseMessage], history: Sequence[Turn],
) -> guard.Screen:
    """The injection post-check for this reply; what was withheld from the model is noted."""
    answer.notes.extend(guard.withheld_notes(p.text for p in passages))
    asked = " ".join([answer.question, *(turn.question for turn in history)])
    return guard.make_screen(
        [p.text for p in passages], asked, [str(m.content) for m in messages[:1]], [ABSTENTION]
    )


def _validated(settings: Settings, question: str, k: int | None) -> tuple[str, int]:
    """The stripped question and k, or an `AnswerError` saying which limit they break."""
    question = question.strip()
    if not question:
        raise AnswerError("the question is empty")
    if len(question) > settings.max_question_chars:
        raise AnswerError(
            f"the question is {len(question)} characters; the limit is "
            f"{settings.max_question_chars} (CHATBOT_MAX_QUESTION_CHARS)"
        )
    k = settings.k if k is None else k
    if not 1 <= k <= 50:
        raise AnswerError(f"k must be between 1 and 50, got {k}")
    return question, k


def _finish(
    pipeline: Pipeline, answer: Answer, reply: _Reply, text: str, passages: list[Passage]
) -> None:
    """Usage, cost and the citation check of the (screened) reply, into `answer`."""
    usage = reply.full.usage_metadata if reply.full is not None else None
    if usage:
        answer.usage = {
            "prompt_tokens": int(usage["input_tokens"]),
            "completion_tokens": int(usage["output_tokens"]),
        }
    answer.cost_usd = _cost(pipeline, answer.usage)
    checked = None if is_abstention(text) else check(text, passages)
    if checked is None:
        answer.notes.append("the model said the passages do not answer the question")
    elif not checked.sentences:
        answer.notes.append(f"the model gave no answer text (it wrote {text.strip()!r})")
    elif not checked.citations:
        # Every claim shown points at a passage: an answer no passage supports is not shown.
        answer.notes.append(
            "the model's answer cited no passage and no passage supports it; it was not shown"
        )
    else:
        answer.answer = checked.text
        answer.abstained = False
        answer.citations = checked.citations
        answer.sentences = checked.sentences
        answer.notes.extend(checked.notes)


def ask(
    pipeline: Pipeline,
    question: str,
    history: Sequence[Turn] = (),
    *,
    k: int | None = None,
    sources: list[str] | None = None,
    mode: str | None = None,
    mmr: bool | None = None,
    status: StatusFn | None = None,
) -> Answer:
    items = stream_answer(
        pipeline, question, history, k=k, sources=sources, mode=mode, mmr=mmr, status=status
    )
    for item in items:
        if isinstance(item, Answer):
            return item
    raise AssertionError("stream_answer ended without an Answer")
