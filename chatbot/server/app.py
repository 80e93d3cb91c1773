"""The FastAPI application of `chatbot serve` and the checks before it listens.

Routes under /v1 need `Authorization: Bearer <CHATBOT_API_KEY>` when a key is set; /health,
/openapi.json and /docs never show document data and stay open. Without a key the server only
binds to a loopback address.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from chatbot import Chatbot, ConfigError
from chatbot.server import chat, documents, errors
from chatbot.server.gate import ModelGate
from chatbot.server.schema import Health, ModelCard, ModelList

DESCRIPTION = """\
Cited answers from your own documents, behind OpenAI's chat API. Point any OpenAI client at
`http://HOST:PORT/v1` with the key from CHATBOT_API_KEY (any string when none is set); the
model id (GET /v1/models) chooses the document collection (or the request's `collection`
field; documents routes take `?collection=`). Each completion carries its
citations and per-sentence support in the extra `chatbot` field (in the final chunk of a
stream). Errors use OpenAI's error shape.
"""

_bearer = HTTPBearer(auto_error=False, description="The key set in CHATBOT_API_KEY.")


async def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    key = chat.state_of(request).bot.settings.api_key
    if key is None:
        return
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), key.get_secret_value().encode()):
        raise errors.Unauthorized(
            "missing or wrong API key; send Authorization: Bearer <CHATBOT_API_KEY>"
        )


def create_app(bot: Chatbot) -> FastAPI:
    """The application around one `Chatbot` (its index and model are opened on first use;
    `serve` opens them before listening)."""
    app = FastAPI(title="chatbot", version="1", description=DESCRIPTION)
    app.state.chatbot = chat.ServerState(bot, ModelGate(bot.settings.serve_queue))
    errors.install(app)
    secured = [Depends(authorize)]
    app.include_router(chat.router, dependencies=secured)
    app.include_router(documents.router, dependencies=secured)

    @app.get("/v1/models", response_model=ModelList, dependencies=secured, tags=["models"])
    async def list_models(request: Request) -> ModelList:
        """One model id per document collection; choosing the model chooses the documents."""
        return ModelList(data=await run_in_threadpool(chat.state_of(request).models))

    @app.get(
        "/v1/models/{model}", response_model=ModelCard, dependencies=secured,
        responses=chat.ERRORS, tags=["models"],
    )
    async def get_model(model: str, request: Request) -> ModelCard:
        await run_in_threadpool(chat.state_of(request).check_model, model)
        return ModelCard(id=model)

    @app.get("/health", response_model=Health)
    async def health(request: Request) -> Health:
        """Liveness and the model queue (no document data: open without a key)."""
        state = chat.state_of(request)
        gate = state.gate
        return Health(
            model=state.bot.settings.chat_model, busy=gate.busy, waiting=gate.waiting,
            queue_limit=gate.queue,
        )

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema without its 422 responses: invalid requests get OpenAI's 400."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema["paths"].values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(bot: Chatbot, host: str) -> None:
    """Refuse what would expose the documents or fail every request."""
    if bot.settings.api_key is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without a key: anyone who reaches it could read "
            "your documents; set CHATBOT_API_KEY, or use --host 127.0.0.1"
        )
    problem = bot.setup_problem()
    if problem:
        raise ConfigError(problem)


def serve(bot: Chatbot, host: str, port: int) -> None:
    """Open the index, start the model, then listen (until Ctrl-C)."""
    import uvicorn

    check_bind(bot, host)
    bot.open()
    bot.start_model()
    uvicorn.run(create_app(bot), host=host, port=port, log_level="info")
