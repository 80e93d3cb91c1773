"""POST /v1/chat/completions: `Chatbot.reply` behind OpenAI's chat schema, streamed or not.

The model gate is taken before the first byte (so a full queue is a plain 429) and released
when the answer is complete, the stream ends, or the client goes away. Generation runs in a
worker thread one item at a time; a client that disconnects stops it at the next token (the
model call is closed, so the embedded server stops generating too).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from chatbot import Answer, Chatbot, ChatbotError, InvalidRequestError, NotFoundError, Turn
from chatbot.config import collection_name_problem
from chatbot.server.errors import describe, error_body
from chatbot.server.gate import ModelGate
from chatbot.server.schema import (
    ChatCompletion,
    ChatMessage,
    ChatRequest,
    ErrorResponse,
    ModelCard,
    extension,
)

log = logging.getLogger("chatbot.server")
router = APIRouter()
T = TypeVar("T")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 429, 500, 503)
}


@dataclass
class ServerState:
    """What every route needs: the one `Chatbot` and the model gate."""

    bot: Chatbot
    gate: ModelGate

    def models(self) -> list[ModelCard]:
        """One model id per collection: the server's default first, then the others."""
        from chatbot.collections import names

        default = self.bot.collection
        others = [name for name in names(self.bot.settings) if name != default]
        return [ModelCard(id=name) for name in [default, *others]]

    def check_model(self, model: str) -> None:
        self.bot_for(model=model)

    def bot_for(self, collection: str | None = None, model: str | None = None) -> Chatbot:
        """The chatbot of the collection a request names (`collection`, else the model id,
        else the server's default); unknown is a 404 listing the collections, and a
        malformed `collection` a 400 that does not echo it."""
        from chatbot.collections import check_name, exists

        name = collection or model or self.bot.collection
        if name == self.bot.collection:
            return self.bot
        if collection is not None:
            check_name(collection)
        if collection_name_problem(name) is None and exists(self.bot.settings, name):
            return self.bot.using(name)
        ids = ", ".join(card.id for card in self.models())
        what = "collection" if collection is not None else "model"
        raise NotFoundError(
            f"no {what} {name!r}; this server has: {ids} (GET /v1/models, GET /v1/collections)"
        )


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.chatbot
    return state


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """The last user message is the question; earlier user/assistant pairs are the history
    (system, developer and tool messages are ignored)."""
    talk = [m for m in messages if m.role in ("user", "assistant")]
    if not talk or talk[-1].role != "user":
        raise InvalidRequestError("the last message must be the user's question")
    history: list[Turn] = []
    asked: str | None = None
    for message in talk[:-1]:
        if message.role == "user":
            asked = message.text()
        elif asked is not None:
            history.append(Turn(asked, message.text()))
            asked = None
    return talk[-1].text(), history


class Generation:
    """Drives the synchronous `Chatbot.reply` iterator from async code, one item per step in a
    worker thread; `close` (shielded from cancellation) stops the generation."""

    def __init__(self, items: Iterator[str | Answer]) -> None:
        self._items = items
        self._closed = False

    async def next(self) -> str | Answer | None:
        """The next token or the final `Answer`; None if the iterator ended without one."""
        return await run_in_threadpool(next, self._items, None)

    async def answer(self, first: str | Answer) -> Answer | None:
        item: str | Answer | None = first
        while isinstance(item, str):
            item = await self.next()
        return item

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self._items.close)  # type: ignore[attr-defined]


async def until_disconnect(request: Request, work: Callable[[], Awaitable[T]]) -> T | None:
    """`await work()`, cancelled if the client disconnects meanwhile (then None). Its
    exception, if any, is raised as is (not inside an exception group)."""
    done: list[T] = []
    failed: list[Exception] = []

    async def watch(scope: anyio.CancelScope) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        try:
            done.append(await work())
        except Exception as exc:
            failed.append(exc)
        group.cancel_scope.cancel()
    if failed:
        raise failed[0]
    return done[0] if done else None


class GatedStream(StreamingResponse):
    """A streaming response that always runs `cleanup` when it ends, however it ends
    (complete, client gone, server shutting down)."""

    def __init__(
        self, content: AsyncIterator[bytes], cleanup: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._cleanup()


@dataclass
class Completion:
    """Ids and names shared by every chunk of one completion."""

    model: str
    id: str = ""
    created: int = 0

    def __post_init__(self) -> None:
        self.id = self.id or f"chatcmpl-{uuid.uuid4().hex}"
        self.created = self.created or int(time.time())

    def usage(self, answer: Answer) -> dict[str, int]:
        prompt, completion = answer.usage["prompt_tokens"], answer.usage["completion_tokens"]
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def whole(self, answer: Answer) -> dict[str, Any]:
        body = ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[{"message": {"content": answer.answer}}],  # type: ignore[list-item]
            usage=self.usage(answer),  # type: ignore[arg-type]
            chatbot=extension(answer.to_json()),
        )
        return body.model_dump(mode="json")

    def chunk(self, delta: dict[str, str], finish: str | None = None, **extra: Any) -> bytes:
        data = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    def last(self, answer: Answer) -> bytes:
        """The final chunk: finish reason, usage and the `chatbot` field (citations...)."""
        return self.chunk(
            {}, "stop", usage=self.usage(answer),
            chatbot=extension(answer.to_json()).model_dump(mode="json"),
        )


def error_event(exc: BaseException) -> bytes:
    """An error after the stream began: one SSE event in OpenAI's error shape."""
    if isinstance(exc, ChatbotError):
        body = describe(exc)[1]
    else:
        log.error("unexpected error while streaming", exc_info=exc)
        body = error_body("internal server error; see the server log", "server_error")
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


async def events(
    completion: Completion, generation: Generation, first: str | Answer
) -> AsyncIterator[bytes]:
    """The SSE body: a role chunk, one chunk per token, the final chunk, `[DONE]`."""
    yield completion.chunk({"role": "assistant", "content": ""})
    item: str | Answer | None = first
    try:
        while isinstance(item, str):
            if item:
                yield completion.chunk({"content": item})
            item = await generation.next()
    except Exception as exc:  # the status line is sent: the error goes in the stream
        yield error_event(exc)
        return
    if item is None:
        yield error_event(RuntimeError("the answer stream ended without an answer"))
        return
    yield completion.last(item)
    yield b"data: [DONE]\n\n"


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        **ERRORS,
        200: {
            "description": "The completion; with `stream: true`, `text/event-stream` chunks "
            "ending with one that carries `finish_reason`, `usage` and `chatbot`, then "
            "`data: [DONE]`.",
        },
    },
    summary="Answer the last user message from the documents, with citations",
)
async def chat_completions(body: ChatRequest, request: Request) -> Response:
    state = state_of(request)
    bot = await run_in_threadpool(state.bot_for, body.collection, body.model)
    question, history = conversation(body.messages)
    started = await state.gate.acquire()
    generation = Generation(
        bot.reply(
            question, history, k=body.k, sources=body.sources, mode=body.retriever, mmr=body.mmr
        )
    )

    async def cleanup() -> None:
        await generation.close()
        state.gate.release(started)

    try:  # up to the first token: an early failure still gets its own status code
        first = await until_disconnect(request, generation.next)
        if first is not None and not body.stream:
            answer = await until_disconnect(request, lambda: generation.answer(first))
    except BaseException:
        await cleanup()
        raise
    completion = Completion(model=body.model)
    if first is not None and body.stream:
        return GatedStream(events(completion, generation, first), cleanup)
    await cleanup()
    if first is None or answer is None:  # the client went away: nobody reads this
        return Response(status_code=499)
    return JSONResponse(completion.whole(answer))
