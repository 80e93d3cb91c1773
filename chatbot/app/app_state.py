"""Per-process resources (`st.cache_resource`) and per-session state of the app.

One `Pipeline` per distinct configuration is shared by every browser tab: the embeddings, the
Chroma client and the chat model are heavy, and `Pipeline.chat` is built lazily under a lock, so
two tabs asking at once share one model (the embedded llama server queues their requests).
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from chatbot.answer import Turn
from chatbot.config import Settings
from chatbot.index import IndexError_
from chatbot.loaders import MissingDependencyError
from chatbot.local_models import ModelError
from chatbot.locking import IndexBusyError
from chatbot.models import Answer
from chatbot.pipeline import Pipeline
from chatbot.providers import ProviderError
from chatbot.service_errors import ModelServiceError, explain
from chatbot.warm_start import start_warm_up

#: Failures of the model service or its configuration: shown as a banner, the chat is kept.
SERVICE_ERRORS: tuple[type[BaseException], ...] = (ProviderError, ModelServiceError, ModelError)
#: Failures while opening the index and embeddings (or an extractor that is not installed):
#: nothing can be shown but the message.
STARTUP_ERRORS: tuple[type[BaseException], ...] = (
    IndexError_, IndexBusyError, MissingDependencyError, *SERVICE_ERRORS
)


@st.cache_resource(show_spinner="Loading the index and models…")
def _cached_pipeline(key: str, _settings: Settings) -> Pipeline:
    """Keyed on the serialised settings, so a changed configuration gets its own pipeline.

    The chat model starts in the background right away (`warm_start`), so the first question
    does not wait for it."""
    pipeline = Pipeline.build(_settings)
    if _settings.warm_start:
        start_warm_up(pipeline)
    return pipeline


def get_pipeline(settings: Settings) -> Pipeline:
    # The JSON masks the API key; a digest of it makes a changed key count as a change.
    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
    return _cached_pipeline(f"{settings.model_dump_json()}#{digest}", settings)


def service_problem(exc: BaseException, settings: Settings) -> str | None:
    """A one-line explanation when `exc` means the model service is unusable, else None."""
    if isinstance(exc, SERVICE_ERRORS):
        return str(exc)
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a dependency
        return None
    if isinstance(exc, openai.OpenAIError):
        return str(explain(exc, settings))
    return None


def missing_key_problem(settings: Settings) -> str | None:
    """Say so up front when the openai provider is chosen without a key or a server URL."""
    uses_openai = "openai" in (settings.llm_provider, settings.embeddings_provider)
    if uses_openai and settings.openai_api_key is None and not settings.openai_base_url:
        return (
            "the openai provider is selected but OPENAI_API_KEY is not set; set OPENAI_API_KEY "
            "(or OPENAI_BASE_URL for a local OpenAI-compatible server), or set "
            "CHATBOT_LLM_PROVIDER=local and CHATBOT_EMBEDDINGS_PROVIDER=local for the embedded "
            "models"
        )
    return None


def init_session() -> None:
    """Defaults for this browser tab's state."""
    defaults: dict[str, Any] = {
        "answers": [],  # list[Answer]: what the chat page renders and exports
        "history": [],  # list[Turn]: what `stream_answer` condenses follow-ups with
        "service_error": None,  # str | None: the banner shown until an answer succeeds
        "ingest_report": None,  # IngestReport | None: last upload or re-index
        "summary": None,  # the last summary shown on the Summaries page
        "flash": None,  # str | None: one-shot success message (e.g. after a deletion)
        "uploader_generation": 0,  # bumped to clear the file uploader after ingesting
    }
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


def answers() -> list[Answer]:
    return list(st.session_state["answers"])


def record(answer: Answer) -> None:
    st.session_state["answers"].append(answer)
    st.session_state["history"].append(Turn(answer.question, answer.answer))
    st.session_state["service_error"] = None


def new_chat() -> None:
    st.session_state["answers"] = []
    st.session_state["history"] = []

