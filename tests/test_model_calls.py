"""Model calls under one deadline (chatbot/model_calls.py), without a server."""

from __future__ import annotations

import httpx2
import openai
import pytest

from chatbot.config import Settings
from chatbot.model_calls import Deadline, call
from chatbot.service_errors import ModelServiceError

REQUEST = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def settings(**values: object) -> Settings:
    return Settings(llm_provider="fake", embeddings_provider="fake", _env_file=None, **values)  # type: ignore[arg-type]


def status_error(code: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = httpx2.Response(code, headers=headers or {}, request=REQUEST)
    kind = {
        429: openai.RateLimitError, 500: openai.InternalServerError, 400: openai.BadRequestError
    }
    return kind[code]("boom", response=response, body=None)


def test_retries_until_success_and_reports_each() -> None:
    failures = [status_error(500), status_error(429, {"retry-after": "0"})]
    seen: list[str] = []
    timeouts: list[float] = []

    def attempt(timeout: float) -> str:
        timeouts.append(timeout)
        if failures:
            raise failures.pop(0)
        return "ok"

    assert call(settings(request_timeout=30), attempt, status=seen.append) == "ok"
    # Each attempt gets what is left of one deadline.
    assert len(timeouts) == 3 and timeouts[0] >= timeouts[1] >= timeouts[2]
    assert [s.rsplit(" ", 1)[-1] for s in seen] == ["(2/3)…", "(3/3)…"]


def test_a_request_error_is_not_retried() -> None:
    calls: list[float] = []

    def attempt(timeout: float) -> None:
        calls.append(timeout)
        raise status_error(400)

    with pytest.raises(ModelServiceError, match="rejected the request"):
        call(settings(), attempt)
    assert len(calls) == 1


def test_retry_after_beyond_the_deadline_fails_at_once() -> None:
    calls: list[float] = []

    def attempt(timeout: float) -> None:
        calls.append(timeout)
        raise status_error(429, {"retry-after": "3600"})

    message = r"rate limiting requests \(still after 0 retries\)"
    with pytest.raises(ModelServiceError, match=message):
        call(settings(request_timeout=5), attempt)
    assert len(calls) == 1


def test_a_spent_deadline_makes_no_attempt() -> None:
    deadline = Deadline(0.0)
    with pytest.raises(ModelServiceError, match="CHATBOT_REQUEST_TIMEOUT"):
        call(settings(), lambda timeout: pytest.fail("called"), deadline=deadline)
