"""Per-process resources (`st.cache_resource`) and per-session state of the app.

One `Chatbot` per distinct configuration is shared by every browser tab: the embeddings, the
Chroma client and the chat model are heavy, and the chat model is built lazily under a lock, so
two tabs asking at once share one model (the embedded llama server queues their requests).
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from chatbot import Answer, Chatbot, ConfigError, ModelServiceError, Settings, Turn

#: Failures of the model service or its configuration: shown as a banner, the chat is kept.
SERVICE_ERRORS: tuple[type[BaseException], ...] = (ConfigError, ModelServiceError)


@st.cache_resource(show_spinner="Loading the models…")
def _cached_bot(key: str, _settings: Settings) -> Chatbot:
    """Keyed on the serialised settings, so a changed configuration gets its own chatbot.

    The chat model starts in the background right away (`warm_start`), so the first question
    does not wait for it. Each collection is a `Chatbot.using` of this one: they share the
    embeddings and the chat model, and open their own index on first use."""
    bot = Chatbot(_settings)
    bot.start_warm_up()
    return bot


def collection_bot(settings: Settings, collection: str) -> Chatbot:
    """The shared chatbot on the collection chosen in the sidebar, its index opened."""
    with st.spinner("Opening the collection…"):
        return get_bot(settings).using(collection).open()


def switch_collection() -> None:
    """Sidebar callback: another collection starts a new conversation (its answers, cited
    from the other documents, would make no sense as history)."""
    new_chat()
    for key in ("summary", "ingest_report", "eval_report"):
        st.session_state[key] = None
    st.session_state["search_sources"] = []


def get_bot(settings: Settings) -> Chatbot:
    # The JSON masks the API key; a digest of it makes a changed key count as a change.
    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
    return _cached_bot(f"{settings.model_dump_json()}#{digest}", settings)


def service_problem(exc: BaseException) -> str | None:
    """A one-line explanation when `exc` means the model service is unusable, else None."""
    return str(exc) if isinstance(exc, SERVICE_ERRORS) else None


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

