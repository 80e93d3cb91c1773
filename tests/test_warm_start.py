from __future__ import annotations

import logging

import pytest
from fault_server import FaultServer

from chatbot.config import Settings
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt
from chatbot.warm_start import start_warm_up, warm_up

KEY = "sk-test-warm-0000"


def test_warm_up_starts_the_model_and_sends_nothing_where_nothing_is_cached(
    fake_settings: Settings,
) -> None:
    pipeline = Pipeline.build(fake_settings)
    assert pipeline.models._chat is None
    start_warm_up(pipeline).join(timeout=30)
    assert pipeline.models._chat is not None
    assert pipeline.chat.model.calls == 0  # type: ignore[attr-defined]


def _server_settings(fake_settings: Settings, server: FaultServer, **extra: object) -> Settings:
    return fake_settings.with_overrides(
        llm_provider="openai", openai_base_url=server.base_url, openai_api_key=KEY,
        request_timeout=2.0, **extra,
    )


def test_warm_up_has_a_caching_server_process_the_system_prompt(
    fake_settings: Settings,
) -> None:
    with FaultServer(["ok"]) as server:
        pipeline = Pipeline.build(_server_settings(fake_settings, server))
        warm_up(pipeline)
    assert len(server.requests) == 1
    body = server.requests[0].body
    assert body["messages"][0]["content"] == load_prompt("answer_system").template
    assert body["messages"][1]["content"].startswith("Passages:")
    assert body["max_completion_tokens"] == 1


def test_a_failed_warm_start_is_logged_without_secrets_and_not_raised(
    fake_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with FaultServer(["401"]) as server:
        pipeline = Pipeline.build(_server_settings(fake_settings, server, max_retries=0))
        with caplog.at_level(logging.WARNING, logger="chatbot.warm_start"):
            start_warm_up(pipeline).join(timeout=30)
    assert "warm start failed" in caplog.text and "rejected the API key" in caplog.text
    assert KEY not in caplog.text
