from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.prompts import PromptError, bundled_prompts, load_prompt

ALL = bundled_prompts()


def test_the_prompts_are_bundled_in_the_package() -> None:
    assert ALL == [
        "answer", "answer_check", "answer_check_yes_no", "answer_system", "condense",
        "question_hints",
        "summarize_map", "summarize_reduce",
    ]


@pytest.mark.parametrize("name", ALL)
def test_every_placeholder_can_be_filled(name: str) -> None:
    prompt = load_prompt(name)
    filled = prompt.format(**{field: f"<{field}>" for field in prompt.placeholders})
    assert not re.search(r"(?<!\{)\{[a-z_]+\}(?!\})", filled), "a placeholder was left unfilled"
    for field in prompt.placeholders:
        assert f"<{field}>" in filled


def test_missing_value_is_an_error() -> None:
    prompt = load_prompt("answer")
    with pytest.raises(PromptError, match="question"):
        prompt.format(passages="x")


def test_unknown_prompt_lists_the_bundled_ones(tmp_path: Path) -> None:
    (tmp_path / "one.md").write_text("hi {x}")
    with pytest.raises(PromptError, match="condense"):
        load_prompt("two", tmp_path)


def test_a_prompts_dir_overrides_single_prompts(tmp_path: Path) -> None:
    (tmp_path / "answer_system.md").write_text("Answer like a pirate.\n")
    assert load_prompt("answer_system", tmp_path).template == "Answer like a pirate.\n"
    assert load_prompt("answer", tmp_path) == load_prompt("answer")  # not overridden


def test_the_setting_reaches_the_answer_prompt(tmp_path: Path) -> None:
    from chatbot.context import answer_messages

    (tmp_path / "answer_system.md").write_text("Answer like a pirate.\n")
    settings = Settings(prompts_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    messages = answer_messages([], "q?", settings.prompts_dir)
    assert messages[0].content == "Answer like a pirate.\n"


def test_a_prompts_dir_that_is_not_a_folder_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        Settings(prompts_dir=tmp_path / "missing", _env_file=None)  # type: ignore[call-arg]


def test_the_answer_pipeline_fills_its_prompts() -> None:
    """The placeholders used by the code are exactly those in the files."""
    assert load_prompt("answer").placeholders == {"passages", "question", "hint"}
    assert load_prompt("answer_system").placeholders == set()
    assert load_prompt("condense").placeholders == {"history", "question"}


def test_an_answer_prompt_without_the_hint_placeholder_still_works(tmp_path: Path) -> None:
    """A CHATBOT_PROMPTS_DIR written before question hints existed keeps working (no hint)."""
    from chatbot.context import answer_messages

    (tmp_path / "answer.md").write_text("P: {passages}\nQ: {question}\n")
    messages = answer_messages([], "How many?", tmp_path, hint="Give a number.")
    assert messages[1].content == "P: \nQ: How many?\n"
