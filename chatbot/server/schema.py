"""Request and response bodies of `chatbot serve`: OpenAI's chat schema plus a `chatbot` field.

Requests accept (and ignore) the OpenAI fields chatbot has no use for (`temperature`,
`max_tokens`, `tools`, ...), so unmodified OpenAI clients work. Responses carry everything an
OpenAI client reads; the citations and per-sentence support ride in the extra `chatbot` field,
which OpenAI clients keep (`completion.model_extra["chatbot"]` in the `openai` package).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatbot.config import RETRIEVER_MODES
from chatbot.models import Bullet, Citation, Sentence


# --- requests --------------------------------------------------------------------------------
class ContentPart(BaseModel):
    """One part of a multi-part message; only `text` parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat completion request. The last message must be the user's question; earlier
    user/assistant pairs are the conversation (follow-ups are condensed as in `chatbot chat`);
    system messages are ignored (chatbot's own prompt decides how to answer)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="A model id from GET /v1/models (one per collection).")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1, description="Only one choice is produced.")
    k: int | None = Field(
        default=None, ge=1, le=50, description="chatbot extension: passages (CHATBOT_K)."
    )
    sources: list[str] | None = Field(
        default=None,
        max_length=100,
        description="chatbot extension: search only these indexed sources or folders.",
    )
    retriever: str | None = Field(
        default=None,
        description="chatbot extension: retrieval mode (CHATBOT_RETRIEVER).",
        json_schema_extra={"enum": list(RETRIEVER_MODES)},
    )
    mmr: bool | None = Field(default=None, description="chatbot extension: diversify passages.")
    collection: str | None = Field(
        default=None,
        description="chatbot extension: the collection to answer from (GET /v1/collections); "
        "without it the model id names the collection. An unknown one is a 404.",
    )

    @field_validator("retriever")
    @classmethod
    def _known_retriever(cls, value: str | None) -> str | None:
        if value is not None and value not in RETRIEVER_MODES:
            raise ValueError(f"unknown retriever; valid: {', '.join(RETRIEVER_MODES)}")
        return value


class SummaryRequest(BaseModel):
    sources: list[str] | None = Field(
        default=None, max_length=100, description="Indexed sources or folders; empty: all."
    )
    bullets: int = Field(default=5, ge=1, le=20)
    collection: str | None = Field(
        default=None, description="The collection to summarize (default: the server's)."
    )


# --- responses -------------------------------------------------------------------------------
class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Extension(BaseModel):
    """The `chatbot` field of a completion (and of the final stream chunk)."""

    answer: str = Field(
        description="The checked answer text. Streams carry the model's raw tokens; citation "
        "checking may add, move or drop [n] markers, so this is the text to keep."
    )
    abstained: bool = Field(description="True when the documents do not answer the question.")
    citations: list[Citation]
    sentences: list[Sentence]
    standalone_question: str | None = Field(
        default=None, description="The follow-up question as rewritten for the search."
    )
    notes: list[str]
    timings: dict[str, float | None]


class Message(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: Message
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    chatbot: Extension


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "chatbot"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class CollectionOut(BaseModel):
    name: str = Field(description="Also a model id of GET /v1/models.")
    sources: int
    chunks: int
    embedding_model: str = Field(
        description="The embedding model that built it; empty until its first document."
    )


class CollectionList(BaseModel):
    object: Literal["list"] = "list"
    default: str = Field(description="The collection used when a request names none.")
    data: list[CollectionOut]


class DocumentOut(BaseModel):
    source: str
    chunks: int
    characters: int
    indexed_at: str


class DocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DocumentOut]


class FileReportOut(BaseModel):
    source: str
    status: Literal["added", "updated", "unchanged", "removed", "skipped"]
    chunks: int
    reason: str
    notes: list[str] = Field(
        default_factory=list,
        description="What was left out of an ingested file, e.g. a scanned page not OCR'd.",
    )


class IngestReportOut(BaseModel):
    files: list[FileReportOut]
    added: int
    updated: int
    unchanged: int
    removed: int
    skipped: int
    chunks_written: int
    chunks_deleted: int
    seconds: float


class DocumentDeleted(BaseModel):
    id: str
    object: Literal["document.deleted"] = "document.deleted"
    deleted: bool = True
    chunks: int


class SummaryOut(BaseModel):
    sources: list[str]
    bullets: list[Bullet]
    citations: list[Citation]
    chunks_read: int
    model: str
    map_batches: int
    dropped_bullets: list[Bullet]
    usage: dict[str, int]
    timings: dict[str, float]
    notes: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    busy: bool
    waiting: int
    queue_limit: int


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape."""

    error: ErrorBody


def extension(answer_json: dict[str, Any]) -> Extension:
    """The `chatbot` field from `Answer.to_json()`."""
    return Extension.model_validate(answer_json, from_attributes=False)
