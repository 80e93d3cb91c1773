"""The committed abstention sets are what their documentation says (benchmarks/data/SOURCE.md):
unanswerable questions have no answer anywhere in their corpus, answerable ones have their gold
passage in it, and the development sets never use a held-out article."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatbot.bench_metrics import normalize_answer

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data"
SETS = [
    ("xquad_abstain/corpus.jsonl", "xquad_abstain/dev.jsonl", 0),
    ("xquad_abstain/corpus.jsonl", "xquad_abstain/heldout.jsonl", 1),
    ("xquad_abstain_dev2/corpus.jsonl", "xquad_abstain_dev2/questions.jsonl", 0),
]


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _article(passage_id: str) -> int:
    return int(passage_id.split("-")[2])


@pytest.mark.parametrize(("corpus", "questions", "parity"), SETS)
def test_abstention_sets_hold_what_they_claim(corpus: str, questions: str, parity: int) -> None:
    passages = {r["id"]: f" {normalize_answer(r['text'])} " for r in _rows(DATA / corpus)}
    rows = _rows(DATA / questions)
    unanswerable = [r for r in rows if not r["gold_passage_ids"]]
    answerable = [r for r in rows if r["gold_passage_ids"]]
    assert unanswerable and answerable
    for row in unanswerable:
        removed = row["meta"]["removed_passage"]
        assert removed not in passages
        assert _article(removed) % 2 == parity
        for answer in row["meta"]["removed_answers"]:
            needle = f" {normalize_answer(answer)} "
            assert not any(needle in text for text in passages.values()), row["id"]
    for row in answerable:
        gold = row["gold_passage_ids"][0]
        assert gold in passages
        assert _article(gold) % 2 == parity
        assert any(f" {normalize_answer(a)} " in passages[gold] for a in row["answers"]), row["id"]


def test_the_second_development_set_removes_other_paragraphs() -> None:
    first = {r["id"] for r in _rows(DATA / "xquad_abstain" / "corpus.jsonl")}
    second = {r["id"] for r in _rows(DATA / "xquad_abstain_dev2" / "corpus.jsonl")}
    dev2 = _rows(DATA / "xquad_abstain_dev2" / "questions.jsonl")
    removed_here = {r["meta"]["removed_passage"] for r in dev2 if not r["gold_passage_ids"]}
    assert removed_here and removed_here <= first  # still present in the first set's corpus
    assert not removed_here & second
