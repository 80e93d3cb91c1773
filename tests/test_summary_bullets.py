"""Bullets of a model reply: parsing (property-tested) and marker renumbering."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatbot import markers
from chatbot.summary_bullets import parse_bullets, renumber, spread


def test_parse_bullets_handles_numbering_continuations_and_headings() -> None:
    reply = "Here is the summary:\n1. First point\n   goes on [1].\n2) Second [2].\n* Third [3]"
    assert parse_bullets(reply) == ["First point goes on [1].", "Second [2].", "Third [3]"]
    assert parse_bullets("One line [1].\n\nAnother [2].") == ["One line [1].", "Another [2]."]
    assert parse_bullets("1. - [1] Xi lands first.\n- **[2, 3]** Then Samarkand") == [
        "Xi lands first [1].",
        "Then Samarkand [2, 3]",
    ]


_words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8)
_text = st.lists(_words, min_size=1, max_size=6).map(" ".join)


@given(st.lists(_text, min_size=1, max_size=8), st.sampled_from(["- ", "* ", "1. ", "• "]))
def test_parse_bullets_keeps_every_marked_item_in_order(items: list[str], mark: str) -> None:
    reply = "\n".join(f"{mark}{item} [{i + 1}]." for i, item in enumerate(items))
    assert parse_bullets(reply) == [f"{item} [{i + 1}]." for i, item in enumerate(items)]


@given(st.lists(_text, min_size=1, max_size=8))
def test_parse_bullets_without_marks_is_one_bullet_per_line(lines: list[str]) -> None:
    assert parse_bullets("\n\n".join(lines)) == lines


def test_renumber_maps_and_removes_markers_with_a_note() -> None:
    notes: list[str] = []
    original = "A [1]. B [2, 3]."
    text = renumber(original, {1: 7, 2: None, 3: 9}.get, notes)
    assert markers.strip(text) == markers.strip(original)
    assert "[7]" in text and "[9]" in text and "[2" not in text
    assert notes == ["removed citation [2]: not among the passages given"]


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=1, max_value=10))
def test_spread_keeps_first_and_last(total: int, n: int) -> None:
    from chatbot.models import Bullet

    items = [Bullet(text=str(i), citations=[i], supported=True) for i in range(total)]
    chosen = spread(items, n)
    assert len(chosen) == min(total, n)
    assert chosen[0] is items[0]
    if n > 1:
        assert chosen[-1] is items[-1]
