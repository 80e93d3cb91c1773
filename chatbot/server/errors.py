"""Every failure as OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`.

`ChatbotError` subclasses map to statuses here, once; request validation errors name the field
but never echo the input; anything unexpected is a 500 whose message says nothing internal
(the traceback goes to the server log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from chatbot.errors import (
    BusyError,
    ChatbotError,
    InvalidRequestError,
    ModelServiceError,
    NotFoundError,
    StoreError,
)

log = logging.getLogger("chatbot.server")


class Unauthorized(ChatbotError):
    """No or a wrong bearer key."""


#: (error class, HTTP status, OpenAI error type, code); the first match wins.
STATUSES: list[tuple[type[ChatbotError], int, str, str | None]] = [
    (Unauthorized, 401, "authentication_error", "invalid_api_key"),
    (NotFoundError, 404, "invalid_request_error", "not_found"),
    (InvalidRequestError, 400, "invalid_request_error", None),
    (BusyError, 429, "rate_limit_error", "rate_limit_exceeded"),
    (ModelServiceError, 503, "server_error", "model_unavailable"),
    (StoreError, 503, "server_error", "index_unavailable"),
    (ChatbotError, 500, "server_error", None),
]
#: Retry-After for a busy index (its lock holder gives no estimate).
BUSY_RETRY_S = 5


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def describe(exc: ChatbotError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for a `ChatbotError`."""
    status, kind, code = next((s, k, c) for cls, s, k, c in STATUSES if isinstance(exc, cls))
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, BusyError):
        headers["Retry-After"] = str(round(exc.retry_after or BUSY_RETRY_S))
    return status, error_body(str(exc), kind, code), headers


def error_response(exc: ChatbotError) -> JSONResponse:
    status, body, headers = describe(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    """The first few problems by field (pydantic's messages only: no input is echoed)."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts or ["invalid body"])


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the OpenAI error shape."""

    @app.exception_handler(ChatbotError)
    async def _chatbot(request: Request, exc: ChatbotError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = error_body(validation_message(exc), "invalid_request_error", "invalid_request")
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return JSONResponse(
            error_body(str(exc.detail), kind), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        body = error_body("internal server error; see the server log", "server_error")
        return JSONResponse(body, status_code=500)
