from __future__ import annotations

from chatbot.citations import check, overlap, split_sentences
from chatbot.models import Passage


def passage(n: int, text: str, start: int = 0) -> Passage:
    return Passage(f"id{n}", f"doc{n}.txt", text, start, start + len(text), 1.0)


PASSAGES = [
    passage(1, "Xi will visit Kazakhstan first. Then he goes to Samarkand.", 100),
    passage(2, "The summit is in Uzbekistan. Putin will attend the summit.", 500),
]


def test_valid_markers_are_kept_with_support_span() -> None:
    checked = check("Xi visits Kazakhstan first [1].", PASSAGES)
    assert checked.text == "Xi visits Kazakhstan first [1]."
    (citation,) = checked.citations
    assert (citation.n, citation.source, citation.start) == (1, "doc1.txt", 100)
    text = PASSAGES[0].text
    support = text[citation.support_start - 100 : citation.support_end - 100]
    assert support == "Xi will visit Kazakhstan first."
    assert checked.sentences[0].citations == [1] and checked.sentences[0].supported


def test_out_of_range_marker_is_removed_and_reported() -> None:
    checked = check("Putin will attend the summit [7].", PASSAGES)
    assert "[7]" not in checked.text
    assert any("[7]" in note for note in checked.notes)
    # ... and the sentence is then attributed to the passage that supports it.
    assert checked.sentences[0].citations == [2]


def test_uncited_sentence_is_attributed_to_best_passage() -> None:
    checked = check("The summit is in Uzbekistan.", PASSAGES)
    assert checked.sentences[0].citations == [2]
    assert checked.text == "The summit is in Uzbekistan [2]."
    assert [c.n for c in checked.citations] == [2]


def test_unsupported_sentence_is_flagged() -> None:
    checked = check("Kazakhstan [1]. Bananas grow on tall plants in Ecuador.", PASSAGES)
    assert [s.supported for s in checked.sentences] == [True, False]
    assert checked.sentences[1].citations == []
    assert any("unsupported" in note for note in checked.notes)


def test_multiple_markers_in_one_group() -> None:
    checked = check("Xi goes to Kazakhstan and Uzbekistan [1, 2].", PASSAGES)
    assert checked.sentences[0].citations == [1, 2]
    assert [c.n for c in checked.citations] == [1, 2]


def test_overlap_and_sentences() -> None:
    assert overlap("Kazakhstan visit", "a visit to Kazakhstan") == 1.0
    assert overlap("the of", "anything") == 0.0
    text = "One. Two [1]. Three"
    assert [text[a:b] for a, b in split_sentences(text)] == ["One.", "Two [1].", "Three"]


def test_citation_of_the_wrong_passage_is_moved_to_the_supporting_one() -> None:
    checked = check("Putin will attend the summit in Uzbekistan [1].", PASSAGES)
    assert checked.sentences[0].citations == [2]
    assert checked.text == "Putin will attend the summit in Uzbekistan [2]."
    assert any("moved citation" in note for note in checked.notes)


def test_a_weakly_supported_citation_stays_when_nothing_is_better() -> None:
    checked = check("Xi is a leader [1].", PASSAGES)
    assert checked.sentences[0].citations == [1]


def test_cited_sentence_the_passage_does_not_support_is_flagged() -> None:
    checked = check("Uzbekistan has approximately 34 million inhabitants today [2].", PASSAGES)
    assert checked.sentences[0].citations == [2]
    assert checked.sentences[0].supported is False
    assert any("does not support" in note for note in checked.notes)
    assert check("Yes [1].", PASSAGES).sentences[0].supported is True
