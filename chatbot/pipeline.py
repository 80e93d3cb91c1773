"""The heavy objects of one process (embeddings, index, retriever, chat model), built once.

`chatbot.Chatbot` owns one (the CLI makes one per command, the app one per process, the server
one for its lifetime). The chat model is started lazily because ingesting never needs it.
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
class Pipeline:
    settings: Settings
    embeddings: Embeddings
    index: Index
    retriever: Retriever
    _chat: ChatBackend | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, settings: Settings) -> Pipeline:
        embeddings = make_embeddings(settings)
        index = Index(settings, embeddings)
        return cls(settings, embeddings, index, Retriever(index))

    @property
    def chat(self) -> ChatBackend:
        with self._lock:
            if self._chat is None:
                self._chat = make_chat(self.settings)
            return self._chat
