"""Locating a cited sentence among a page's characters, and the boxes drawn over it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.highlight import PAD, PageChar, fold, highlight, locate, merge_boxes


def _folded(chars: list[str] | str, indices: list[int]) -> str:
    return "".join(fold(chars[i]) for i in indices)


def test_exact_match_ignores_spacing_case_and_line_breaks() -> None:
    page = "Intro.\r\nThe  Lighthouse keeper\r\nlogs the weather. Next one."
    found = locate("The lighthouse keeper logs the weather.", page)
    assert page[found[0] : found[-1] + 1] == "The  Lighthouse keeper\r\nlogs the weather."


def test_hyphenation_from_either_reader_matches() -> None:
    # pdfium marks a line-end hyphen with \x02 and joins the lines; pypdf keeps "fog-\nhorn".
    page = "At dawn. The fog\x02horn sounds twice. Then quiet."
    found = locate("The fog-\nhorn sounds twice.", page)
    assert page[found[0] : found[-1] + 1] == "The fog\x02horn sounds twice."


def test_ligatures_match_their_letters() -> None:
    page = "On the ﬁrst ﬂoor of the tower."
    found = locate("first floor", page)
    assert page[found[0] : found[-1] + 1] == "ﬁrst ﬂoor"


def test_best_run_of_words_when_the_text_differs() -> None:
    page = "Other text here. The harbour master keeps a spare beacon lamp. More text follows."
    # Two words differ (pypdf and pdfium disagree, or the order of text objects does).
    found = locate("The harbor master keeps one spare beacon lamp.", page)
    assert page[found[0] : found[-1] + 1] == "The harbour master keeps a spare beacon lamp"


def test_nothing_similar_is_not_highlighted() -> None:
    assert locate("Completely unrelated words about submarines.", "The lighthouse at dawn.") == []
    assert locate("   ", "The lighthouse at dawn.") == []
    assert locate("The lighthouse.", "") == []


def _box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    return (x0, y0, x1, y1)


def test_boxes_are_one_per_line_and_skip_spaces() -> None:
    chars = [
        PageChar("a", _box(10, 10, 15, 20)),
        PageChar(" ", None),
        PageChar("b", _box(20, 10, 25, 20)),
        PageChar("\n", None),
        PageChar("c", _box(10, 30, 15, 40)),
    ]
    assert merge_boxes(chars, [0, 1, 2, 3, 4]) == [
        (10 - PAD, 10 - PAD, 25 + PAD, 20 + PAD),
        (10 - PAD, 30 - PAD, 15 + PAD, 40 + PAD),
    ]
    assert highlight("b c", chars) == [
        (20 - PAD, 10 - PAD, 25 + PAD, 20 + PAD),
        (10 - PAD, 30 - PAD, 15 + PAD, 40 + PAD),
    ]


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé", min_size=1, max_size=8)
SEPARATOR = st.sampled_from([" ", "  ", "\r\n", "\n", " \x02", "-\n"])


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(WORD, min_size=1, max_size=30),
    separators=st.lists(SEPARATOR, min_size=30, max_size=30),
    data=st.data(),
)
def test_any_run_of_words_is_found_whatever_the_spacing(
    words: list[str], separators: list[str], data: st.DataObject
) -> None:
    page = "".join(w + s for w, s in zip(words, separators, strict=False))
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    sentence = " ".join(words[first : last + 1]).upper()
    found = locate(sentence, page)
    assert found == list(range(found[0], found[-1] + 1))  # one contiguous run
    assert _folded(page, found) == "".join(fold(c) for c in sentence)


def test_lines_read_in_another_order_are_found_one_by_one() -> None:
    # pdfium may list a page's lines in another order than pypdf (rotated pages, columns).
    page = "horn sounds twice near the reef.\r\nThe keeper logs at dawn. The fog-"
    found = locate("The fog-\nhorn sounds twice near the reef.", page)
    assert "".join(page[i] for i in found) == "horn sounds twice near the reef.The fog"
