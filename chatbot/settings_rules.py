"""What each setting accepts and what an empty one becomes: the name tables, defaults and checks
behind `config.Settings`, kept apart so that class reads as the list of fields."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatbot.config import Settings

PROVIDER_NAMES = ("local", "openai", "fake")
RETRIEVER_MODES = ("hybrid", "dense", "bm25")

#: Model names used when the matching setting is left empty.
DEFAULT_CHAT_MODELS = {
    "local": "qwen2.5-coder-1.5b-instruct-q4_k_m",
    "openai": "gpt-4o-mini",
    "fake": "fake-extractive",
}
DEFAULT_MIN_RELEVANCE = {"local": 0.35, "openai": 0.2, "fake": 0.2}
DEFAULT_MIN_HYBRID_SCORE = {"local": 0.4, "openai": 0.0, "fake": 0.0}
#: The collection an index written before collections existed opens as.
DEFAULT_COLLECTION = "chatbot"
COLLECTION_NAME_RULE = (
    "3 to 63 characters from a-z, A-Z, 0-9, '.', '_' and '-', starting and ending with a "
    "letter or digit, no '..', not an IPv4 address"
)
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")


def collection_name_problem(name: str) -> str | None:
    """Why `name` cannot name a collection (Chroma's rules), or None. Never echoes the name:
    it may come from an untrusted request."""
    if not _COLLECTION_NAME.fullmatch(name) or ".." in name or _is_ipv4(name):
        return f"invalid collection name: use {COLLECTION_NAME_RULE}"
    return None


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


DEFAULT_EMBEDDING_MODELS = {
    "local": "all-MiniLM-L6-v2-onnx-int8",
    "openai": "text-embedding-3-small",
    "fake": "fake-hashing-256",
}


#: CHATBOT_HEADINGS_IN_INDEX: where a chunk's context line goes (chatbot/headings.py).
HEADINGS_MODES = ("off", "keyword", "on")


# --- field checks (each raises ValueError, which pydantic reports under the field) ------------
def known_provider(value: str) -> str:
    value = value.strip().lower()
    if value and value not in PROVIDER_NAMES:
        raise ValueError(
            f"unknown provider {value!r}; valid providers: {', '.join(PROVIDER_NAMES)}"
        )
    return value


def passage_chars_list(value: Any) -> Any:
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        value = [int(value)]
    if isinstance(value, list) and (not value or any(int(v) < 0 for v in value)):
        raise ValueError("passage_chars needs at least one value, none negative")
    return value


def existing_folder(value: Path | None) -> Path | None:
    if value is not None and not value.is_dir():
        raise ValueError(f"{value} is not a folder (CHATBOT_PROMPTS_DIR)")
    return value


def valid_collection(value: str) -> str:
    problem = collection_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def headings_mode(value: Any) -> str:
    text = str(value).strip().lower()
    text = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}.get(
        text, text
    )
    if text not in HEADINGS_MODES:
        raise ValueError(f"must be one of {', '.join(HEADINGS_MODES)}, got {value!r}")
    return text


def known_retriever(value: str) -> str:
    value = value.strip().lower()
    if value not in RETRIEVER_MODES:
        raise ValueError(
            f"unknown retriever {value!r}; valid modes: {', '.join(RETRIEVER_MODES)}"
        )
    return value


def resolve_defaults(settings: Settings) -> Settings:
    """Fill the settings left empty from the providers in use (in place), then check the
    fields that depend on each other."""
    default = "openai" if settings.openai_api_key else "local"
    if not settings.llm_provider:
        settings.llm_provider = default
    if not settings.embeddings_provider:
        settings.embeddings_provider = default
    if not settings.chat_model:
        if settings.llm_provider == "local" and settings.gguf_path:
            settings.chat_model = settings.gguf_path.stem
        else:
            settings.chat_model = DEFAULT_CHAT_MODELS[settings.llm_provider]
    if not settings.embedding_model:
        settings.embedding_model = DEFAULT_EMBEDDING_MODELS[settings.embeddings_provider]
    if settings.min_relevance is None:
        settings.min_relevance = DEFAULT_MIN_RELEVANCE[settings.embeddings_provider]
    if settings.min_hybrid_score is None:
        settings.min_hybrid_score = DEFAULT_MIN_HYBRID_SCORE[settings.embeddings_provider]
    if settings.chunk_overlap >= settings.chunk_size:
        raise ValueError("chunk_overlap must be smaller than chunk_size")
    return settings
