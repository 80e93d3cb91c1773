"""The heavy objects of one process (embeddings, index, retriever, chat model), built once.

`chatbot.Chatbot` owns one (the CLI makes one per command, the app one per process, the server
one for its lifetime). The chat model is started lazily because ingesting never needs it. The
embeddings and the chat model live in `Models`, which the pipelines of several collections in
one process share (`Chatbot.using`): one embedded model server, however many collections.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from langchain_core.embeddings import Embeddings

from chatbot.config import Settings
from chatbot.index import Index
from chatbot.providers import ChatBackend, make_chat, make_embeddings
from chatbot.retrieve import Retriever


@dataclass
class Models:
    """The embeddings and the chat model of one configuration, each built on first use."""

    settings: Settings
    _embeddings: Embeddings | None = None
    _chat: ChatBackend | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def embeddings(self) -> Embeddings:
        with self._lock:
            if self._embeddings is None:
                self._embeddings = make_embeddings(self.settings)
            return self._embeddings

    @property
    def chat(self) -> ChatBackend:
        with self._lock:
            if self._chat is None:
                self._chat = make_chat(self.settings)
            return self._chat


@dataclass
class Pipeline:
    settings: Settings
    embeddings: Embeddings
    index: Index
    retriever: Retriever
    models: Models
    _chat: ChatBackend | None = None  # this pipeline's own chat model (tests swap one in)

    @classmethod
    def build(cls, settings: Settings, models: Models | None = None) -> Pipeline:
        """The pipeline of `settings.collection`, on `models` when given (they must come from
        settings that differ at most in the collection)."""
        models = models or Models(settings)
        embeddings = models.embeddings
        index = Index(settings, embeddings)
        return cls(settings, embeddings, index, Retriever(index), models)

    @property
    def chat(self) -> ChatBackend:
        return self._chat or self.models.chat
