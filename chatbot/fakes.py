"""Deterministic stand-ins for the chat model and the embeddings, chosen by `provider = fake`.

They behave like the real thing closely enough to test the pipeline end to end: the embeddings
put texts that share words near each other, and the chat model answers from the numbered
passages it is given (or replays canned replies) and streams token by token.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from",
        "has", "have", "he", "her", "his", "how", "in", "is", "it", "its", "of", "on", "or",
        "she", "that", "the", "their", "them", "they", "this", "to", "was", "were", "what",
        "when", "where", "which", "who", "why", "will", "with", "would", "you", "your"
    ]
)
#: The fake says exactly this when no passage shares a content word with the question.
FAKE_ABSTENTION = "I could not find this in the documents."


def content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]


class HashingEmbeddings(Embeddings):
    """Feature-hashed bag of words, L2-normalised: cheap, deterministic and lexically meaningful."""

    def __init__(self, dimensions: int = 256) -> None:
        self.dimensions = dimensions

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in content_words(text):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimensions
            vector[slot] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


_PASSAGE = re.compile(r"^\[(\d+)\] (.*?)(?=^\[\d+\]|^Source: |\Z)", re.S | re.M)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _extractive_reply(prompt: str) -> str:
    """Answer with the passage sentence sharing most content words with the question."""
    if "Standalone question:" in prompt:
        # A follow-up rewrite: carry the previous user question's words along.
        users = re.findall(r"^User: (.*)$", prompt, re.M)
        last = re.search(r"Last question: (.*)", prompt)
        current = last.group(1).strip() if last else ""
        return f"{current} ({users[-1]})" if users else current
    question = prompt.rsplit("Question:", 1)[-1]
    q_words = set(content_words(question))
    best: tuple[int, str, str] = (0, "", "")
    for number, body in _PASSAGE.findall(prompt.split("Question:", 1)[0]):
        for sentence in _SENTENCE.findall(body):
            overlap = len(q_words & set(content_words(sentence)))
            if overlap > best[0]:
                best = (overlap, sentence.strip(), number)
    if best[0] == 0:
        return FAKE_ABSTENTION
    return f"{best[1].rstrip('.')} [{best[2]}]."


class FakeChatModel(BaseChatModel):
    """Replays `replies` in order, else answers extractively from the prompt's passages."""

    replies: list[str] = Field(default_factory=list)
    model_name: str = "fake-extractive"
    calls: int = 0
    replayed: int = 0  # canned replies used (answer checks take none)
    #: Seconds before each streamed token (a stand-in for a model's generation speed).
    token_delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "chatbot-fake"

    def _reply(self, messages: list[BaseMessage], check: str = "") -> str:
        if check:
            # The answer check (a JSON-schema or a yes/no-with-logprobs request): a verdict,
            # leaving `replies` for answers.
            self.calls += 1
            reply = _extractive_reply(str(messages[-1].content).rsplit("\n\n", 1)[0])
            found = reply != FAKE_ABSTENTION
            if check == "json":
                return json.dumps({"answerable": found})
            return "Yes" if found else "No"
        if self.replies:
            reply = self.replies[self.replayed % len(self.replies)]
            self.replayed += 1
        else:
            reply = _extractive_reply(str(messages[-1].content))
        self.calls += 1
        return reply

    @staticmethod
    def _usage(messages: list[BaseMessage], reply: str) -> UsageMetadata:
        prompt_tokens = sum(len(str(m.content).split()) for m in messages)
        completion_tokens = len(reply.split())
        return UsageMetadata(
            input_tokens=prompt_tokens,
            output_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        check = (
            "json" if "response_format" in kwargs else "yes_no" if kwargs.get("logprobs") else ""
        )
        reply = self._reply(messages, check)
        metadata: dict[str, Any] = {}
        if check == "yes_no":  # certain either way, as an extractive reader is
            word = {"token": reply, "logprob": 0.0}
            metadata["logprobs"] = {"content": [{**word, "top_logprobs": [word]}]}
        message = AIMessage(
            content=reply, usage_metadata=self._usage(messages, reply), response_metadata=metadata
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        pieces = re.findall(r"\S+\s*|\s+", reply)
        for piece in pieces:
            if self.token_delay:
                time.sleep(self.token_delay)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=self._usage(messages, reply))
        )
