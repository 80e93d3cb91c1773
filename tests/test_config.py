from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chatbot.config import DEFAULT_CHAT_MODELS, Settings, render_env_example

REPO = Path(__file__).resolve().parent.parent


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_defaults_to_local_without_a_key() -> None:
    settings = make()
    assert settings.llm_provider == "local"
    assert settings.embeddings_provider == "local"
    assert settings.chat_model == DEFAULT_CHAT_MODELS["local"]
    assert settings.data_dir == Path(".chatbot")


def test_defaults_to_openai_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = make()
    assert settings.llm_provider == "openai"
    assert settings.embedding_model == "text-embedding-3-small"
    assert "sk-test" not in repr(settings)


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBOT_K", "7")
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHROMA_HOST", "db.local")
    monkeypatch.setenv("CHROMA_PORT", "9000")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    settings = make()
    assert (settings.k, settings.llm_provider) == (7, "fake")
    assert (settings.chroma_host, settings.chroma_port) == ("db.local", 9000)
    assert settings.openai_base_url == "http://127.0.0.1:1/v1"


def test_reads_dotenv(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("CHATBOT_COLLECTION=from-dotenv\n")
    assert Settings(_env_file=env).collection == "from-dotenv"  # type: ignore[call-arg]


def test_unknown_provider_lists_valid_ones() -> None:
    with pytest.raises(ValidationError, match="local, openai, fake"):
        make(llm_provider="llamafile")


def test_unknown_retriever_lists_valid_ones() -> None:
    with pytest.raises(ValidationError, match="hybrid, dense, bm25"):
        make(retriever="magic")


def test_with_overrides_revalidates_and_resets_model_names() -> None:
    settings = make(llm_provider="fake", embeddings_provider="fake")
    changed = settings.with_overrides(k=9, llm_provider="local")
    assert changed.k == 9 and changed.chat_model == DEFAULT_CHAT_MODELS["local"]
    with pytest.raises(ValidationError):
        settings.with_overrides(k=0)


def test_env_example_mirrors_every_setting() -> None:
    assert (REPO / ".env.example").read_text(encoding="utf-8") == render_env_example(), (
        "run `python scripts/env_example.py` after changing Settings"
    )


def test_abstention_threshold_is_calibrated_per_embedding_provider() -> None:
    assert make().min_relevance == 0.35  # local MiniLM, calibrated on benchmark data
    assert make(embeddings_provider="fake").min_relevance == 0.2
    assert make(min_relevance=0.5).min_relevance == 0.5
    local = make(llm_provider="fake")
    assert local.with_overrides(embeddings_provider="fake").min_relevance == 0.2


def test_hybrid_score_gate_is_calibrated_for_local_embeddings_only() -> None:
    assert make().min_hybrid_score == 0.4  # MiniLM, chosen on xquad_abstain dev
    assert make(embeddings_provider="fake").min_hybrid_score == 0.0  # off
    assert make(min_hybrid_score=0.3).min_hybrid_score == 0.3
    local = make(llm_provider="fake")
    assert local.with_overrides(embeddings_provider="fake").min_hybrid_score == 0.0


def test_passage_chars_is_a_list_by_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBOT_PASSAGE_CHARS", "[480, 160, 80]")
    assert make().passage_chars == [480, 160, 80]
    monkeypatch.setenv("CHATBOT_PASSAGE_CHARS", "300")  # one number: every passage
    assert make().passage_chars == [300]
    for bad in ([], [100, -1]):
        with pytest.raises(ValidationError, match="passage_chars"):
            make(passage_chars=bad)
