"""Turn failures of the model service into one clear message that names the setting to check.

Retries happen in `chatbot.model_calls` (`CHATBOT_MAX_RETRIES` retries of 408, 409, 429, 5xx,
timeouts and connection errors, `Retry-After` honoured, all inside one `CHATBOT_REQUEST_TIMEOUT`
deadline); what reaches this module has already been retried. Model calls go through there or
through `model_errors(settings)`, so every front end sees one `ModelServiceError` (defined in
`chatbot.errors`), never a raw openai / httpx / JSON exception.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from chatbot.config import Settings
from chatbot.errors import ModelServiceError as ModelServiceError  # its old home, re-exported

Role = Literal["chat", "embeddings"]


def _where(settings: Settings) -> str:
    """The server to name in messages, without any user:password part of the URL."""
    if settings.openai_base_url:
        parts = urlsplit(settings.openai_base_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", "")) or "the model server"
    return "the embedded model server" if settings.llm_provider == "local" else "api.openai.com"


def timeout_error(settings: Settings, role: Role = "chat") -> ModelServiceError:
    """The deadline (`CHATBOT_REQUEST_TIMEOUT`) ran out before the service answered."""
    message = (
        f"{_where(settings)} did not answer within {settings.request_timeout:g} s; raise "
        "CHATBOT_REQUEST_TIMEOUT or check the server"
    )
    return ModelServiceError(f"embedding: {message}" if role == "embeddings" else message)


def explain(
    exc: BaseException, settings: Settings, role: Role = "chat", retries: int | None = None
) -> ModelServiceError:
    """One line saying what failed and which setting to check; never the exception's own text,
    which can quote request details (servers have been known to echo the key). `retries` is
    how many retries were made (default: CHATBOT_MAX_RETRIES)."""
    import openai
    from langchain_core.exceptions import ContextOverflowError

    if isinstance(exc, openai.APITimeoutError):
        return timeout_error(settings, role)
    retries = settings.max_retries if retries is None else retries
    where = _where(settings)
    model = settings.chat_model if role == "chat" else settings.embedding_model
    model_setting = "CHATBOT_CHAT_MODEL" if role == "chat" else "CHATBOT_EMBEDDING_MODEL"
    if isinstance(exc, ContextOverflowError):
        message = (
            f"the prompt is too long for model {model!r}; lower CHATBOT_K or CHATBOT_CHUNK_SIZE"
        )
    elif isinstance(exc, openai.AuthenticationError):
        message = f"{where} rejected the API key; check OPENAI_API_KEY"
    elif isinstance(exc, openai.PermissionDeniedError):
        message = f"{where} refused access to model {model!r}; check {model_setting}"
    elif isinstance(exc, openai.NotFoundError):
        message = f"{where} has no model {model!r}; check {model_setting} and OPENAI_BASE_URL"
    elif isinstance(exc, openai.RateLimitError):
        message = (
            f"{where} is rate limiting requests (still after {retries} retries); "
            "wait and try again, or raise CHATBOT_MAX_RETRIES"
        )
    elif isinstance(exc, openai.APIConnectionError):
        message = (
            f"lost or could not open the connection to {where}; check OPENAI_BASE_URL and "
            "that the server runs"
        )
    elif isinstance(exc, openai.InternalServerError):
        message = f"{where} had a server error (still after {retries} retries)"
    elif isinstance(exc, openai.BadRequestError):
        message = f"{where} rejected the request (HTTP 400) for model {model!r}"
    elif isinstance(exc, openai.APIStatusError):
        message = f"{where} answered HTTP {exc.status_code}; check OPENAI_BASE_URL"
    elif isinstance(exc, openai.APIResponseValidationError | ValueError):
        message = f"{where} sent a malformed response; check OPENAI_BASE_URL"
    elif isinstance(exc, openai.APIError):
        message = f"{where} reported an error while answering; try again"
    else:
        message = f"the model service failed: {type(exc).__name__}"
    if role == "embeddings":
        message = f"embedding: {message}"
    return ModelServiceError(message)


@contextlib.contextmanager
def model_errors(settings: Settings, role: Role = "chat") -> Iterator[None]:
    """Re-raise anything a model call raises as one `ModelServiceError` (cause kept for debug)."""
    try:
        yield
    except ModelServiceError:
        raise
    except Exception as exc:
        raise explain(exc, settings, role) from exc


@contextlib.contextmanager
def openai_errors(settings: Settings) -> Iterator[None]:
    """A raw openai error that slipped past `chatbot.model_calls` still reaches the caller as
    one `ModelServiceError` (it may quote request details; the explanation never does)."""
    import openai

    try:
        yield
    except openai.OpenAIError as exc:
        raise explain(exc, settings) from exc
