from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatbot.prompts import PROMPTS_DIR, PromptError, load_prompt

ALL = sorted(p.stem for p in PROMPTS_DIR.glob("*.md"))


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


def test_unknown_prompt_lists_available(tmp_path: Path) -> None:
    (tmp_path / "one.md").write_text("hi {x}")
    with pytest.raises(PromptError, match="one"):
        load_prompt("two", tmp_path)


def test_the_answer_pipeline_fills_its_prompts() -> None:
    """The placeholders used by the code are exactly those in the files."""
    assert load_prompt("answer").placeholders == {"passages", "question"}
    assert load_prompt("answer_system").placeholders == set()
    assert load_prompt("condense").placeholders == {"history", "question"}
