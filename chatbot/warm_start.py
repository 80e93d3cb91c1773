"""Warm start: start the chat model while the user is still typing.

The app and `chatbot chat` call `start_warm_up` once at start. Where the server keeps processed
prompt prefixes (the embedded llama.cpp server, most servers behind OPENAI_BASE_URL) the system
prompt is also sent once, so the first question only pays for its own passages.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from chatbot.config import Settings
from chatbot.context import answer_messages
from chatbot.local_models import ModelError
from chatbot.model_calls import invoke as invoke_model
from chatbot.providers import ChatBackend, ProviderError
from chatbot.service_errors import ModelServiceError

logger = logging.getLogger(__name__)


class ChatSource(Protocol):
    """A `Pipeline` or the `Models` that pipelines share: warming up needs no index."""

    @property
    def settings(self) -> Settings: ...

    @property
    def chat(self) -> ChatBackend: ...


def warm_up(pipeline: ChatSource) -> None:
    """Start the chat model and, where the server keeps processed prompts, have it process the
    system prompt once, so the first question only pays for its own passages."""
    chat, settings = pipeline.chat, pipeline.settings
    if chat.prompt_cache:
        messages = answer_messages([], "", settings.prompts_dir)
        invoke_model(settings, chat.model.bind(max_completion_tokens=1), messages)


def start_warm_up(pipeline: ChatSource) -> threading.Thread:
    """`warm_up` in a background thread; a failure is only logged (the first question reports
    it the usual way)."""

    def run() -> None:
        try:
            warm_up(pipeline)
        except Exception as exc:
            # Only our own errors' messages are known to be safe to log (no keys, no URLs).
            safe = isinstance(exc, ModelServiceError | ProviderError | ModelError)
            logger.warning("warm start failed: %s", exc if safe else type(exc).__name__)

    thread = threading.Thread(target=run, name="chatbot-warm-start", daemon=True)
    thread.start()
    return thread
