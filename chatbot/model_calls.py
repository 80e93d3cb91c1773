"""Calls to the model service under one deadline, with retries the user can see.

`CHATBOT_REQUEST_TIMEOUT` bounds everything an answer waits for before its first token: opening
the connection, every retry and its backoff, and the model's silence before it starts writing.
The openai client's own retries are off (each of them would get a full timeout: three times the
limit for a hung server); here a failed attempt is retried only while the deadline leaves room,
up to `CHATBOT_MAX_RETRIES` times, and each retry and each long silence is reported through a
status callback ("model service slow, retrying (2/3)…") so the CLI and the app can show it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from langchain_core.embeddings import Embeddings
from langchain_core.messages import AIMessageChunk, BaseMessage

from chatbot.config import Settings
from chatbot.service_errors import (
    ModelServiceError,
    Role,
    explain,
    model_errors,
    timeout_error,
)

T = TypeVar("T")
#: Receives one-line status messages about a slow or failing model service.
StatusFn = Callable[[str], None]

#: Seconds of silence before the caller is told the service is slow (then again as often).
SLOW_NOTICE_S = 10.0
#: Backoff before retry n is BACKOFF_S * 2**(n-1), at most BACKOFF_MAX_S, minus up to 25 %.
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0


@dataclass
class Deadline:
    """When an answer's wait for the model service ends; the clock starts at the first model
    call (retrieval before it is not the service's time)."""

    seconds: float
    ends: float | None = None

    def remaining(self) -> float:
        if self.ends is None:
            self.ends = time.monotonic() + self.seconds
        return max(self.ends - time.monotonic(), 0.0)


def _retryable(exc: BaseException) -> str | None:
    """Why a failure is worth another attempt ("server error"), or None when it is not."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    if isinstance(exc, openai.RateLimitError):
        return "rate limiting requests"
    if isinstance(exc, openai.InternalServerError):
        return "server error"
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (408, 409):
        return f"HTTP {exc.status_code}"
    return None


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (`Retry-After`, seconds or an HTTP date)."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def _pause(exc: BaseException, retry: int) -> float:
    asked = _retry_after(exc)
    if asked is not None:
        return asked
    base = min(BACKOFF_S * 2 ** (retry - 1), BACKOFF_MAX_S)
    return float(base * (1 - 0.25 * random.random()))


def _waiting(attempt: Callable[[float], T], timeout: float, status: StatusFn | None) -> T:
    """Run `attempt(timeout)`; while it is silent, tell `status` every SLOW_NOTICE_S seconds.

    The attempt runs in a worker thread so the notices come from the caller's thread (the
    Streamlit script thread can draw them); the attempt's own timeout ends the worker.
    """
    if status is None:
        return attempt(timeout)
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = attempt(timeout)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="model-call", daemon=True).start()
    started = time.monotonic()
    while not done.wait(SLOW_NOTICE_S):
        status(
            f"model service slow: no answer yet after {time.monotonic() - started:.0f} s "
            f"(limit {timeout:.0f} s, CHATBOT_REQUEST_TIMEOUT)…"
        )
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def call(
    settings: Settings,
    attempt: Callable[[float], T],
    *,
    deadline: Deadline | None = None,
    status: StatusFn | None = None,
    role: Role = "chat",
) -> T:
    """`attempt(timeout)` with retries inside one deadline; failures become ModelServiceError."""
    deadline = deadline or Deadline(settings.request_timeout)
    attempts = settings.max_retries + 1
    for number in range(1, attempts + 1):
        try:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise timeout_error(settings, role)
            return _waiting(attempt, remaining, status)
        except ModelServiceError:
            raise
        except Exception as exc:
            reason = _retryable(exc)
            pause = _pause(exc, number)
            if reason is None or number == attempts or pause >= deadline.remaining():
                raise explain(exc, settings, role, retries=number - 1) from exc
            if status is not None:
                status(f"model service {reason}, retrying ({number + 1}/{attempts})…")
            time.sleep(pause)
    raise AssertionError("unreachable: the last attempt returns or raises")


def invoke(
    settings: Settings,
    model: Any,
    messages: Sequence[BaseMessage],
    *,
    deadline: Deadline | None = None,
    status: StatusFn | None = None,
    **options: Any,
) -> Any:
    """`model.invoke(messages)` under the deadline (condense, summary batches)."""
    return call(
        settings,
        lambda timeout: model.invoke(list(messages), timeout=timeout, **options),
        deadline=deadline,
        status=status,
    )


def stream(
    settings: Settings,
    model: Any,
    messages: Sequence[BaseMessage],
    *,
    deadline: Deadline | None = None,
    status: StatusFn | None = None,
) -> Iterator[AIMessageChunk]:
    """`model.stream(messages)` whose opening (up to the first text) is retried under the
    deadline; once text has reached the caller, a failure is reported, never replayed."""

    def opening(timeout: float) -> tuple[list[Any], Iterator[Any]]:
        chunks = iter(model.stream(list(messages), timeout=timeout))
        head: list[Any] = []
        for chunk in chunks:
            head.append(chunk)
            if isinstance(chunk, AIMessageChunk) and chunk.content:
                break
        return head, chunks

    head, rest = call(settings, opening, deadline=deadline, status=status)
    yield from head
    with model_errors(settings):  # a connection lost mid-stream
        yield from rest


class GuardedEmbeddings(Embeddings):
    """Remote embeddings under the same deadline and retry rules, whose failures arrive as
    `ModelServiceError` wherever they are called from (ingestion, retrieval, the app)."""

    def __init__(self, inner: Embeddings, settings: Settings) -> None:
        self.inner = inner
        self.settings = settings

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return call(
            self.settings, lambda _: self.inner.embed_documents(texts), role="embeddings"
        )

    def embed_query(self, text: str) -> list[float]:
        return call(self.settings, lambda _: self.inner.embed_query(text), role="embeddings")
