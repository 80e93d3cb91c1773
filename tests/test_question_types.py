from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.question_types import hint, hints, kind


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many touchdowns did Newton throw?", "number"),
        ("how much did the bridge cost", "number"),
        ("How many years did the war last?", "number"),
        ("What percentage of voters turned out?", "number"),
        ("What is the population of Warsaw?", "number"),
        ("When did Xi arrive in Astana?", "date"),
        ("In what year was the university founded?", "date"),
        ("Who won Super Bowl 50?", "person"),
        ("Which player had the most interceptions?", "person"),
        ("Whose idea was the canal?", "person"),
        ("Where was the summit held?", "place"),
        ("In which city did the summit take place?", "place"),
        ("Did Xi meet Tokayev?", "yesno"),
        ("Is the bridge open?", "yesno"),
        ("Was the game in Denver or in Santa Clara?", None),
        ("What is the Saxon Garden in Polish?", None),
        ("Why did the Broncos win?", None),
        ("", None),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, expected: str | None) -> None:
    assert kind(question) == expected


def test_every_kind_has_a_hint_and_unknown_kinds_get_none() -> None:
    texts = hints()
    assert set(texts) == {"number", "date", "person", "place", "yesno"}
    assert hint("How many people live there?") == texts["number"]
    assert hint("What is the Saxon Garden in Polish?") == ""


def test_a_prompts_dir_can_change_the_hints(tmp_path: Path) -> None:
    (tmp_path / "question_hints.md").write_text("# mine\nnumber: Digits only.\n")
    assert hint("How many?", tmp_path) == "Digits only."
    assert hint("Who?", tmp_path) == ""  # a kind left out of the file gets no hint


@given(st.text(max_size=200))
def test_any_text_gets_a_known_kind_or_none(text: str) -> None:
    assert kind(text) in {None, "number", "date", "person", "place", "yesno"}
