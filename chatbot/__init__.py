"""chatbot: cited answers from your own documents.

The public API; the CLI, the Streamlit app and `chatbot serve` use only these names::

    from chatbot import Chatbot, load_settings

    bot = Chatbot(load_settings())
    bot.ingest(["notes/"])
    answer = bot.ask("What does the report conclude?")
    print(answer.answer, [c.source for c in answer.citations])

Every deliberate failure is a `ChatbotError` (subclasses below); everything else in the
`chatbot.*` modules is internal and may change.
"""

from __future__ import annotations

from chatbot.config import Settings
from chatbot.errors import (
    BusyError,
    ChatbotError,
    ConfigError,
    InstallError,
    InvalidRequestError,
    ModelServiceError,
    NotFoundError,
    StoreError,
)
from chatbot.models import (
    Answer,
    Bullet,
    Citation,
    CollectionInfo,
    FileReport,
    IngestReport,
    Sentence,
    SourceRecord,
    Summary,
    Turn,
)
from chatbot.session import Chatbot, load_settings
from chatbot.uploads import Upload

__all__ = [
    "Answer",
    "Bullet",
    "BusyError",
    "Chatbot",
    "ChatbotError",
    "Citation",
    "CollectionInfo",
    "ConfigError",
    "FileReport",
    "IngestReport",
    "InstallError",
    "InvalidRequestError",
    "ModelServiceError",
    "NotFoundError",
    "Sentence",
    "Settings",
    "SourceRecord",
    "StoreError",
    "Summary",
    "Turn",
    "Upload",
    "ask",
    "load_settings",
]


def ask(question: str, settings: Settings | None = None) -> Answer:
    """One question with the settings from the environment (or `settings`). The other
    conveniences are `Chatbot` methods: `chatbot.ingest` and `chatbot.summarize` are modules."""
    return Chatbot(settings).ask(question)
