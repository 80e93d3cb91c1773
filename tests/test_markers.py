"""`[n]` markers: the one place that reads and edits them (chatbot/markers.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatbot import markers


def test_numbers_and_strip() -> None:
    text = "A [1]. B [2, 3]. C[4][5]."
    assert markers.numbers(text) == [1, 2, 3, 4, 5]
    assert markers.strip(text) == "A. B. C."
    assert not markers.has_marker("a [x] b [ 1 ]")


def test_rewrite_keeps_unchanged_markers_verbatim_and_deletes_empty_ones() -> None:
    text = "A.[1] B [2,3]. C [9]."
    out = markers.rewrite(text, lambda ns: [n for n in ns if n != 9])
    assert out == "A.[1] B [2,3]. C."
    assert markers.rewrite("B [2, 3].", lambda ns: [3]) == "B [3]."


def test_attach_goes_before_the_final_punctuation_and_keeps_blanks() -> None:
    assert markers.attach("It rose.", [2]) == "It rose [2]."
    assert markers.attach('He said "no."', [1]) == 'He said "no [1]."'
    assert markers.attach("It rose ...", [1]) == "It rose [1] ..."
    assert markers.attach("No stop", [1, 2]) == "No stop [1, 2]"


def test_lead_to_end() -> None:
    assert markers.lead_to_end("**[2]** Text.") == "Text [2]."
    assert markers.lead_to_end("[1][3]: Text") == "Text [1, 3]"
    assert markers.lead_to_end("Text [1].") == "Text [1]."


@given(st.text(max_size=80), st.lists(st.integers(1, 99), min_size=1, max_size=3))
def test_property_attach_then_strip_is_identity(sentence: str, cited: list[int]) -> None:
    plain = markers.strip(sentence)
    assert markers.strip(markers.attach(plain, cited)) == plain
