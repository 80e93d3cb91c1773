"""Provider registry: one name in the settings picks the chat model and the embeddings.

The local provider starts xllamacpp's OpenAI-compatible server in-process, so local and openai
share one code path (`ChatOpenAI`); `fake` is deterministic and offline for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel

from chatbot.config import PROVIDER_NAMES, Settings
from chatbot.errors import ConfigError

#: Placeholder key for servers that need none (the embedded server, most local servers).
NO_KEY = "not-needed"


class ProviderError(ConfigError):
    """A provider is unknown or misconfigured; the message says which setting to fix."""


@dataclass
class ChatBackend:
    """A chat model plus what the answer stage needs to know about it."""

    model: BaseChatModel
    name: str
    provider: str
    context_window: int
    #: The server keeps processed prompt prefixes (llama.cpp, vLLM, Ollama do; api.openai.com
    #: only for long prompts), so sending the system prompt ahead of the first question helps.
    prompt_cache: bool = False
    #: Send `response_format` JSON schemas; set to False once the server rejects one.
    structured_output: bool = True
    #: Ask for logprobs (the model check's probability); set to False once the server rejects it.
    logprobs: bool = True
    #: Kept so the in-process server lives as long as the model that talks to it.
    resources: list[Any] = field(default_factory=list)


def _openai_chat(settings: Settings, base_url: str | None, api_key: str) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.chat_model,
        base_url=base_url,
        api_key=api_key,  # type: ignore[arg-type]
        temperature=settings.temperature,
        max_completion_tokens=settings.max_answer_tokens,
        timeout=settings.request_timeout,
        max_retries=0,  # chatbot.model_calls retries, inside one deadline
        stream_usage=True,
    )


def setup_problem(settings: Settings) -> str | None:
    """Say so up front when the openai provider is chosen without a key or a server URL
    (every answer or embedding would fail); None when the configuration can work."""
    uses_openai = "openai" in (settings.llm_provider, settings.embeddings_provider)
    if uses_openai and settings.openai_api_key is None and not settings.openai_base_url:
        return (
            "the openai provider is selected but OPENAI_API_KEY is not set; set OPENAI_API_KEY "
            "(or OPENAI_BASE_URL for a local OpenAI-compatible server), or set "
            "CHATBOT_LLM_PROVIDER=local and CHATBOT_EMBEDDINGS_PROVIDER=local for the embedded "
            "models"
        )
    return None


def _require_key(settings: Settings) -> str:
    problem = setup_problem(settings)
    if problem:
        raise ProviderError(problem)
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY


def _local_chat(settings: Settings) -> ChatBackend:
    from chatbot.local_models import ensure_gguf, start_llama_server

    path = settings.gguf_path or ensure_gguf(settings.data_dir)
    server = start_llama_server(path, settings.llm_context, settings.llm_threads)
    return ChatBackend(
        model=_openai_chat(settings, server.base_url, server.api_key),
        name=settings.chat_model,
        provider="local",
        context_window=settings.llm_context,
        prompt_cache=True,
        resources=[server],
    )


def _openai_backend(settings: Settings) -> ChatBackend:
    key = _require_key(settings)
    return ChatBackend(
        model=_openai_chat(settings, settings.openai_base_url, key),
        name=settings.chat_model,
        provider="openai",
        context_window=128_000,
        prompt_cache=bool(settings.openai_base_url),
    )


def _fake_chat(settings: Settings) -> ChatBackend:
    from chatbot.fakes import FakeChatModel

    return ChatBackend(
        model=FakeChatModel(
            replies=list(settings.fake_llm_replies), token_delay=settings.fake_llm_token_delay
        ),
        name=settings.chat_model,
        provider="fake",
        context_window=settings.llm_context,
    )


def _local_embeddings(settings: Settings) -> Embeddings:
    from chatbot.local_models import EMBEDDING_MODEL_ID, OnnxMiniLMEmbeddings

    if settings.embedding_model != EMBEDDING_MODEL_ID:
        raise ProviderError(
            f"the local embeddings provider only has {EMBEDDING_MODEL_ID!r}; "
            f"CHATBOT_EMBEDDING_MODEL is {settings.embedding_model!r}"
        )
    return OnnxMiniLMEmbeddings(threads=settings.llm_threads, batch_size=settings.embed_batch_size)


def _openai_embeddings(settings: Settings) -> Embeddings:
    from langchain_openai import OpenAIEmbeddings

    from chatbot.model_calls import GuardedEmbeddings

    key = _require_key(settings)
    # check_embedding_ctx_length=False keeps tiktoken (which downloads its tables) out of the path.
    inner = OpenAIEmbeddings(
        model=settings.embedding_model,
        base_url=settings.openai_base_url,
        api_key=key,  # type: ignore[arg-type]
        check_embedding_ctx_length=False,
        timeout=settings.request_timeout,
        max_retries=0,  # chatbot.model_calls retries, inside one deadline
    )
    return GuardedEmbeddings(inner, settings)  # service failures -> one ModelServiceError


def _fake_embeddings(settings: Settings) -> Embeddings:
    from chatbot.fakes import HashingEmbeddings

    return HashingEmbeddings()


CHAT_PROVIDERS: dict[str, Callable[[Settings], ChatBackend]] = {
    "local": _local_chat,
    "openai": _openai_backend,
    "fake": _fake_chat,
}
EMBEDDING_PROVIDERS: dict[str, Callable[[Settings], Embeddings]] = {
    "local": _local_embeddings,
    "openai": _openai_embeddings,
    "fake": _fake_embeddings,
}
assert set(CHAT_PROVIDERS) == set(EMBEDDING_PROVIDERS) == set(PROVIDER_NAMES)


def _lookup(registry: dict[str, Callable[[Settings], Any]], name: str, setting: str) -> Any:
    try:
        return registry[name]
    except KeyError:
        raise ProviderError(
            f"unknown provider {name!r} in {setting}; valid providers: {', '.join(registry)}"
        ) from None


def make_chat(settings: Settings) -> ChatBackend:
    return _lookup(CHAT_PROVIDERS, settings.llm_provider, "CHATBOT_LLM_PROVIDER")(settings)  # type: ignore[no-any-return]


def make_embeddings(settings: Settings) -> Embeddings:
    factory = _lookup(
        EMBEDDING_PROVIDERS, settings.embeddings_provider, "CHATBOT_EMBEDDINGS_PROVIDER"
    )
    return factory(settings)  # type: ignore[no-any-return]
