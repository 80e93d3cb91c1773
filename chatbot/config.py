"""Typed settings, read once from the environment and `.env`, then passed down explicitly.

Every field is documented here and mirrored in `.env.example` (a test keeps them in sync). What
the fields accept and default to is in `settings_rules.py`; their environment names, the
`.env.example` text and key-free error messages in `settings_env.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatbot import settings_rules as rules

# Re-exported: callers import these from here, where they lived before.
from chatbot.settings_env import describe_settings_error as describe_settings_error
from chatbot.settings_env import env_name as env_name
from chatbot.settings_env import render_env_example as render_env_example
from chatbot.settings_rules import COLLECTION_NAME_RULE
from chatbot.settings_rules import DEFAULT_CHAT_MODELS as DEFAULT_CHAT_MODELS
from chatbot.settings_rules import DEFAULT_COLLECTION as DEFAULT_COLLECTION
from chatbot.settings_rules import PROVIDER_NAMES as PROVIDER_NAMES
from chatbot.settings_rules import RETRIEVER_MODES as RETRIEVER_MODES
from chatbot.settings_rules import collection_name_problem as collection_name_problem


class Settings(BaseSettings):
    """All knobs of the chatbot. Environment names are `CHATBOT_<FIELD>` unless noted."""

    model_config = SettingsConfigDict(
        env_prefix="CHATBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- providers -------------------------------------------------------------------
    llm_provider: str = Field(
        default="",
        description="Chat model provider: local (embedded GGUF), openai (or any "
        "OpenAI-compatible server), fake (deterministic, for tests). Empty: openai when "
        "OPENAI_API_KEY is set, else local.",
    )
    embeddings_provider: str = Field(
        default="",
        description="Embedding provider, same names as llm_provider. Empty: openai when "
        "OPENAI_API_KEY is set, else local.",
    )
    chat_model: str = Field(
        default="",
        description="Chat model name. Empty: the provider's default "
        "(local: qwen2.5-coder-1.5b-instruct-q4_k_m, openai: gpt-4o-mini).",
    )
    embedding_model: str = Field(
        default="",
        description="Embedding model name. Empty: the provider's default "
        "(local: all-MiniLM-L6-v2-onnx-int8, openai: text-embedding-3-small).",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"),
        description="API key for the openai provider (env OPENAI_API_KEY).",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
        description="Base URL of an OpenAI-compatible server such as Ollama, vLLM or "
        "llama.cpp (env OPENAI_BASE_URL). Empty: api.openai.com.",
    )
    request_timeout: float = Field(
        default=120.0,
        gt=0,
        description="One deadline (seconds) for everything an answer waits for before its first "
        "token: connecting, retries with their backoff, and the model's silence. It also bounds "
        "each model call of a summary and each remote embedding call.",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of failed model requests (HTTP 408, 409, 429, 5xx, timeouts, lost "
        "connections) with backoff, while CHATBOT_REQUEST_TIMEOUT leaves room; shown as they "
        "happen.",
    )

    # --- embedded (local) models -------------------------------------------------------
    gguf_path: Path | None = Field(
        default=None,
        description="Use this GGUF file for the local provider instead of the bundled "
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (no hash check for a file you choose).",
    )
    llm_context: int = Field(
        default=4096, ge=512, description="Context window (tokens) of the local model."
    )
    llm_threads: int = Field(
        default=0, ge=0, description="CPU threads for the local model; 0 = all cores."
    )
    max_answer_tokens: int = Field(
        default=320, ge=16, description="Upper bound on generated tokens per answer."
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")
    warm_start: bool = Field(
        default=True,
        description="When the app or `chatbot chat` starts, start the chat model in the "
        "background and, for the embedded model or a server at OPENAI_BASE_URL (which keep "
        "processed prompts), send the system prompt once, so the first question waits no "
        "longer than later ones.",
    )

    # --- storage -----------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".chatbot"),
        description="Index, record manager, stored document text and model cache.",
    )
    collection: str = Field(
        default=DEFAULT_COLLECTION,
        description="The collection (a separate pile of documents with its own index and "
        "embedding model) that commands, the app and the server use unless told otherwise: "
        f"{COLLECTION_NAME_RULE}.",
    )
    chroma_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CHROMA_HOST", "chroma_host"),
        description="Chroma server host (env CHROMA_HOST). Empty: embedded Chroma under "
        "data_dir.",
    )
    chroma_port: int = Field(
        default=8000,
        validation_alias=AliasChoices("CHROMA_PORT", "chroma_port"),
        description="Chroma server port (env CHROMA_PORT).",
    )

    # --- ingestion ---------------------------------------------------------------------
    chunk_size: int = Field(
        default=700, ge=100, le=8000, description="Target chunk size in characters."
    )
    chunk_overlap: int = Field(
        default=120, ge=0, description="Characters of overlap between neighbouring chunks."
    )
    headings_in_index: str = Field(
        default="keyword",
        description="Index each chunk with its document's title and heading path in front "
        "(\"Title > Section > Subsection\"): keyword = in the keyword index only, on = in the "
        "keyword index and the embedding, off = neither. The cited text and its offsets never "
        "include it. Changing it re-indexes every document at the next ingest, from the "
        "stored text.",
    )
    embed_batch_size: int = Field(
        default=32, ge=1, le=5000, description="Chunks embedded and written per batch."
    )
    max_file_mb: float = Field(
        default=50.0, gt=0, description="Files larger than this (MiB) are skipped."
    )
    max_file_chars: int = Field(
        default=10_000_000,
        ge=1000,
        description="Files whose extracted text is longer than this many characters are "
        "skipped (a small compressed PDF can expand to millions).",
    )
    max_file_pages: int = Field(
        default=2000, ge=1, description="PDFs with more pages than this are skipped."
    )
    max_file_paragraphs: int = Field(
        default=100_000,
        ge=1,
        description="DOCX files with more paragraphs and table rows than this are skipped.",
    )
    load_timeout: float = Field(
        default=120.0,
        gt=0,
        description="Seconds one PDF, DOCX or HTML file may take to read (in a worker process "
        "that is stopped when late); the file is then skipped with this reason.",
    )
    ocr: Literal["auto", "off"] = Field(
        default="auto",
        description="OCR of PDF pages without a text layer (scans): auto reads them when the "
        "ocr extra is installed (make install-ocr), off never does; either way such pages are "
        "named in the ingest report when they are not read.",
    )
    ocr_max_pages: int = Field(
        default=50, ge=1, description="At most this many pages of one PDF are OCR'd."
    )
    ocr_page_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Seconds OCR may take for one page (in a worker process that is stopped "
        "when late); the page is then left out and named in the ingest report.",
    )
    watch_debounce_ms: int = Field(
        default=1000,
        ge=50,
        le=600_000,
        description="`chatbot ingest --watch`: a batch is ingested once no file in the watched "
        "folders has changed for this many milliseconds (a burst of saves is one batch; a "
        "folder that never goes quiet still gets a batch every ten times this).",
    )
    lock_timeout: float = Field(
        default=300.0,
        ge=0,
        description="Seconds a write to the index waits while another process (an ingestion) "
        "holds <data_dir>/ingest.lock before failing with a clear error; 0 fails at once.",
    )

    # --- retrieval and answers -----------------------------------------------------------
    k: int = Field(default=3, ge=1, le=50, description="Passages given to the model per answer.")
    retriever: str = Field(
        default="hybrid", description="Retrieval mode: hybrid, dense or bm25."
    )
    mmr: bool = Field(
        default=False,
        description="Pick the k passages by maximal marginal relevance instead of by rank alone, "
        "so near-duplicate chunks (the same text in two files, repeated boilerplate) don't take "
        "every slot. The app and `chatbot ask/chat --mmr` can switch it per question.",
    )
    mmr_lambda: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="MMR trade-off: 1 = relevance only, 0 = diversity only (used when MMR is on).",
    )
    injection_guard: bool = Field(
        default=True,
        description="Defences against instructions planted in documents (chatbot/guard.py): "
        "instruction sentences withheld from the model, links, images and echoed instructions "
        "removed from replies, each with a note. off only to measure the baseline "
        "(benchmarks/injection.py); accepts on/off.",
    )
    min_relevance: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Abstain without asking the model when the best passage's dense "
        "relevance (cosine similarity) is below this. Empty: calibrated per embedding provider "
        "(local 0.35: keeps 117 of 118 answerable and stops 7 of 14 unanswerable benchmark "
        "questions, see benchmarks/abstention.py; openai and fake 0.2, not calibrated).",
    )
    min_hybrid_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="With hybrid retrieval, also abstain without asking the model when the "
        "best passage's fused score (dense similarity plus the rarity-weighted share of the "
        "question's words it contains) is below this. Empty: calibrated per embedding provider "
        "(local 0.4: stops 29 of 40 on-topic unanswerable XQuAD dev questions and none of the "
        "40 answerable ones, see docs/benchmarks.md; openai and fake 0, off).",
    )
    answer_check: bool = Field(
        default=True,
        description="Before answering, ask the chat model one short question: do the "
        "passages state the answer? (yes or no, judged by the probability of yes where the "
        "server returns logprobs; a JSON schema or plain-text reply otherwise); abstain when "
        "the answer is no. Costs one short model call per question.",
    )
    answer_check_min_yes: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="With the model check, abstain when the model's probability of 'yes' "
        "(read from the reply's logprobs, where the server returns them) is below this. 0.5 "
        "is the model's own yes or no; for the embedded model 0.55 caught more unanswerable "
        "questions but refused 1-3 % more answerable ones (docs/benchmarks.md).",
    )
    prices_per_million: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": (0.15, 0.60),
            "gpt-4o": (2.50, 10.00),
            "gpt-4.1-mini": (0.40, 1.60),
            "gpt-4.1-nano": (0.10, 0.40),
            "gpt-4.1": (2.00, 8.00),
        },
        description="USD per million (prompt, completion) tokens by OpenAI model, for the "
        "estimated cost shown with each answer (JSON object).",
    )
    passage_chars: list[int] = Field(
        default_factory=lambda: [480, 160, 80],
        description="Longest passage shown to the model, by rank (JSON list; passages past "
        "the end get the last value): each retrieved chunk is narrowed to its sentences that "
        "best match the question (keeps prompts short and citations exact). 0 = whole chunk. "
        "The best passage keeps the most context (XQuAD answer match 0.75 vs 0.70 with [240]).",
    )
    question_hints: bool = Field(
        default=True,
        description="Add one line after the question naming the kind of answer it asks for "
        "(a number, a date, a name, a place, yes or no; texts in question_hints.md), "
        "so a small model gives that kind of answer.",
    )
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are rejected with a clear error."
    )

    prompts_dir: Path | None = Field(
        default=None,
        description="Folder of your own prompt files (answer.md, answer_system.md, "
        "answer_check.md, answer_check_yes_no.md, question_hints.md, condense.md, "
        "summarize_map.md, summarize_reduce.md); a file missing there falls back to the "
        "bundled prompt. Empty: the prompts bundled in the package.",
    )

    # --- HTTP API (chatbot serve) -----------------------------------------------------------
    api_key: SecretStr | None = Field(
        default=None,
        description="Bearer key clients of `chatbot serve` must send (Authorization: Bearer "
        "<key>). Empty: no key asked, and the server only binds to a loopback address.",
    )
    serve_host: str = Field(
        default="127.0.0.1",
        description="Address `chatbot serve` listens on (--host). A non-loopback address "
        "needs CHATBOT_API_KEY.",
    )
    serve_port: int = Field(
        default=8000, ge=1, le=65535, description="Port `chatbot serve` listens on (--port)."
    )
    serve_queue: int = Field(
        default=8,
        ge=0,
        description="Model requests (answers, summaries) that may wait while the model answers "
        "another one; beyond that the server answers 429 with Retry-After.",
    )
    serve_max_files: int = Field(
        default=20, ge=1, description="Files one upload request to `chatbot serve` may carry."
    )

    # --- testing -------------------------------------------------------------------------
    fake_llm_replies: list[str] = Field(
        default_factory=list,
        description="Canned replies for the fake LLM, used in order (JSON list). Empty: the "
        "fake answers extractively from the passages it is given.",
    )
    fake_llm_token_delay: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="Seconds the fake LLM waits before each streamed token (load tests and "
        "tests of cancellation); 0 = as fast as possible.",
    )

    # The checks live in settings_rules; pydantic needs the decorators on the class.
    @field_validator("llm_provider", "embeddings_provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        return rules.known_provider(value)

    @field_validator("passage_chars", mode="before")
    @classmethod
    def _passage_chars_list(cls, value: Any) -> Any:
        return rules.passage_chars_list(value)

    @field_validator("prompts_dir")
    @classmethod
    def _existing_folder(cls, value: Path | None) -> Path | None:
        return rules.existing_folder(value)

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        return rules.valid_collection(value)

    @field_validator("headings_in_index", mode="before")
    @classmethod
    def _headings_mode(cls, value: Any) -> str:
        return rules.headings_mode(value)

    @field_validator("retriever")
    @classmethod
    def _known_retriever(cls, value: str) -> str:
        return rules.known_retriever(value)

    @model_validator(mode="after")
    def _resolve_defaults(self) -> Settings:
        return rules.resolve_defaults(self)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some fields changed and validated again (for CLI flags and suites)."""
        data = self.model_dump()
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if "llm_provider" in overrides and "chat_model" not in overrides:
            data["chat_model"] = ""
        if "embeddings_provider" in overrides and "embedding_model" not in overrides:
            data["embedding_model"] = ""
            data["min_relevance"] = None
            data["min_hybrid_score"] = None
        data.update(overrides)
        return Settings(**data)


def get_settings(**overrides: Any) -> Settings:
    """Build the settings once at the program edge (CLI, app)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
