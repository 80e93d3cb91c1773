"""`Chatbot`: the one object the CLI, the app and the server use."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot import (
    Answer,
    Chatbot,
    ChatbotError,
    InvalidRequestError,
    NotFoundError,
    Settings,
    Turn,
    Upload,
)


@pytest.fixture
def bot(fake_settings: Settings, seed_dir: Path) -> Chatbot:
    bot = Chatbot(fake_settings)
    bot.ingest([Path("seeds")])
    return bot


def test_reply_routes_a_summary_request_to_a_cited_summary(bot: Chatbot) -> None:
    heard: list[str] = []
    items = list(bot.reply("summarize the article", status=heard.append))
    text, answer = items
    assert isinstance(answer, Answer) and text == answer.answer
    assert answer.notes[0].startswith("summary of seeds/xi-kazakhstan-visit.txt")
    assert answer.citations and heard == ["Reading every chunk to summarize…"]


def test_reply_answers_a_question_with_tokens_then_the_answer(bot: Chatbot) -> None:
    items = list(bot.reply("Where will Xi land before Samarkand?", [Turn("hi", "hello")]))
    *tokens, answer = items
    assert isinstance(answer, Answer) and not answer.abstained and answer.citations
    assert tokens and all(isinstance(t, str) for t in tokens)


def test_remove_of_an_uploaded_source_deletes_its_copy(bot: Chatbot) -> None:
    report = bot.upload([Upload("notes.txt", b"The kettle whistles at noon.")])
    assert report.count("added") == 1
    copy = bot.uploads_dir / "notes.txt"
    assert copy.is_file()
    assert bot.remove("uploads/notes.txt") >= 1
    assert not copy.exists()
    assert bot.remove("seeds/xi-kazakhstan-visit.txt") >= 1  # an ingested file stays
    assert (Path("seeds") / "xi-kazakhstan-visit.txt").is_file()


def test_errors_are_chatbot_errors(bot: Chatbot) -> None:
    with pytest.raises(NotFoundError):
        bot.remove("missing.txt")
    with pytest.raises(InvalidRequestError):
        bot.ask("   ")
    with pytest.raises(ChatbotError):
        bot.summarize(["missing.txt"])


def test_a_bad_setting_is_a_config_error_that_never_quotes_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chatbot import ConfigError, load_settings

    monkeypatch.setenv("CHATBOT_K", "sk-secret-not-a-number")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "CHATBOT_K" in str(info.value) and "sk-secret" not in str(info.value)
