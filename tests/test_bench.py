"""Benchmark metrics on hand-computed examples, input validation, and a tiny end-to-end run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from chatbot.bench import BenchError, load_corpus, load_questions, run_benchmark
from chatbot.bench_metrics import (
    AnswerRecord,
    all_gold_at,
    answer_match,
    answer_metrics,
    distinct,
    normalize_answer,
    percentile,
    recall_at,
    reciprocal_rank,
    retrieval_metrics,
)
from chatbot.cli import build_parser, cmd_bench, main
from chatbot.config import Settings
from chatbot.vectors import Vectors

DATA = Path(__file__).resolve().parent / "data" / "bench"
CORPUS, QUESTIONS = DATA / "corpus.jsonl", DATA / "questions.jsonl"


# --- metrics -----------------------------------------------------------------------------------
def test_distinct_keeps_first_occurrence_order() -> None:
    assert distinct(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_rank_metrics_by_hand() -> None:
    ranked = ["x", "g1", "y", "g2"]
    assert recall_at(ranked, ["g1"], 1) == 0.0
    assert recall_at(ranked, ["g1"], 2) == 1.0
    assert recall_at(ranked, ["zz"], 10) == 0.0
    assert reciprocal_rank(ranked, ["g1", "g2"], 10) == 0.5
    assert reciprocal_rank(ranked, ["g2"], 3) == 0.0  # beyond the cut-off
    assert reciprocal_rank(ranked, ["g2"], 10) == 0.25
    assert all_gold_at(ranked, ["g1", "g2"], 4) == 1.0
    assert all_gold_at(ranked, ["g1", "g2"], 3) == 0.0


def test_retrieval_metrics_average_by_hand() -> None:
    runs = [
        (["a", "b", "c"], ["a"]),  # rank 1
        (["b", "c", "d", "e", "f", "a"], ["a"]),  # rank 6
        (["x", "y"], ["a"]),  # missed
        (["p", "a", "q"], ["a", "q"]),  # rank 2, both gold within 10
    ]
    metrics = retrieval_metrics(runs)
    assert metrics["recall@1"] == 0.25
    assert metrics["recall@5"] == 0.5
    assert metrics["recall@10"] == 0.75
    assert metrics["mrr@10"] == round((1 + 1 / 6 + 0 + 1 / 2) / 4, 4)
    assert metrics["all_gold@10"] == 1.0 and metrics["n_multi_gold"] == 1
    assert metrics["n"] == 4
    assert retrieval_metrics([(["a"], ["a"])])["all_gold@10"] is None


def test_squad_normalisation_and_answer_match() -> None:
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("An apple, a pear") == "apple pear"
    assert answer_match("It was built in 1871 [1].", ["1871"])
    assert answer_match("It costs Four euros.", ["four euros"])
    assert answer_match("The final score was 20-18 [2].", ["20–18"])  # en dash vs hyphen
    assert normalize_answer("«Quoted» — text…") == "quoted text"
    assert not answer_match("It was built in 18711.", ["1871"])  # whole tokens only
    assert not answer_match("No idea.", ["", "the"])  # empty after normalising never matches
    # Digits for number words count only in the lenient variant (reported beside the strict one).
    assert not answer_match("He forced 4 fumbles [1].", ["four"])
    assert answer_match("He forced 4 fumbles [1].", ["four"], numbers=True)
    assert answer_match("Four of them.", ["4"], numbers=True)
    assert not answer_match("He forced 14 fumbles.", ["four"], numbers=True)


def test_percentile_interpolates() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 90) == pytest.approx(4.6)


def test_answer_metrics_by_hand() -> None:
    records = [
        AnswerRecord(
            "1",
            "q",
            ["p1"],
            ["1871"],
            "Built in 1871 [1].",
            False,
            citations=[("p1", "text"), ("p9", "also says 1871"), ("p8", "unrelated")],
            first_token_s=1.0,
            total_s=2.0,
        ),
        AnswerRecord("2", "q", ["p2"], ["Tuesday"], "I could not find this.", True, total_s=1.0),
        AnswerRecord("3", "q", [], [], "I could not find this.", True, total_s=0.5),
        AnswerRecord(
            "4",
            "q",
            [],
            [],
            "Made up [1].",
            False,
            citations=[("p3", "x")],
            first_token_s=3.0,
            total_s=4.0,
        ),
    ]
    metrics = answer_metrics(records)
    assert metrics["n"] == 4 and metrics["n_answerable"] == 2
    assert metrics["answer_match"] == 0.5  # 1 of 2 answerable
    assert metrics["citation_precision"] == round(2 / 3, 4)  # gold p1, p9 holds the answer
    assert metrics["abstention_precision"] == 0.5  # abstained on 2, one was unanswerable
    assert metrics["abstention_recall"] == 0.5  # 1 of 2 unanswerable abstained
    assert metrics["false_abstention"] == 0.5  # 1 of 2 answerable abstained
    assert metrics["answers_without_citation"] == 0
    uncited = dataclasses.replace(records[0], citations=[])
    assert answer_metrics([uncited, records[1]])["answers_without_citation"] == 1
    assert metrics["ttft_median_s"] == 2.0
    assert metrics["ttft_p90_s"] == pytest.approx(2.8)
    assert metrics["total_median_s"] == 1.5
    assert metrics["total_p90_s"] == pytest.approx(3.4)


def test_answer_metrics_without_unanswerable_questions() -> None:
    record = AnswerRecord("1", "q", ["p"], ["x"], "x [1].", False, [("p", "x")], 1.0, 1.0)
    metrics = answer_metrics([record])
    assert metrics["abstention_recall"] is None and metrics["abstention_precision"] is None
    assert metrics["answer_match"] == 1.0 and metrics["citation_precision"] == 1.0


# --- inputs ------------------------------------------------------------------------------------
def test_loaders_read_the_shared_format() -> None:
    corpus = load_corpus(CORPUS)
    questions = load_questions(QUESTIONS, corpus)
    assert [row.id for row in corpus] == ["p-lighthouse", "p-bakery", "p-tram"]
    assert [q.answerable for q in questions] == [True, True, True, True, False]


@pytest.mark.parametrize(
    ("corpus", "questions", "needle"),
    [
        ('{"id": "a", "text": "x"}\nnot json\n', None, "corpus.jsonl:2: not JSON"),
        ('{"id": "a"}\n', None, "corpus.jsonl:1: text"),
        ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', None, "duplicate passage"),
        ("\n", None, "no rows"),
        (
            '{"id": "a", "text": "x"}\n',
            '{"id": "q", "question": "?", "gold_passage_ids": ["zz"]}\n',
            "unknown gold passage 'zz'",
        ),
        ('{"id": "a", "text": "x"}\n', '{"id": "q"}\n', "questions.jsonl:1: question"),
    ],
)
def test_bad_inputs_name_file_line_and_field(
    tmp_path: Path, corpus: str, questions: str | None, needle: str
) -> None:
    (tmp_path / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (tmp_path / "questions.jsonl").write_text(questions or "", encoding="utf-8")
    with pytest.raises(BenchError, match=needle):
        rows = load_corpus(tmp_path / "corpus.jsonl")
        load_questions(tmp_path / "questions.jsonl", rows)


# --- a tiny run on the fake providers ----------------------------------------------------------
def test_tiny_benchmark_end_to_end(fake_settings: Settings) -> None:
    report = run_benchmark(fake_settings, CORPUS, QUESTIONS, k=3, answers=5)
    assert set(report["retrieval"]) == {"hybrid", "dense", "bm25", "hybrid_rrf", "baseline"}
    for metrics in report["retrieval"].values():
        assert set(metrics) >= {"recall@1", "recall@5", "recall@10", "all_gold@10", "mrr@10", "n"}
        assert metrics["n"] == 4  # the unanswerable question is not a retrieval question
        assert metrics["recall@5"] == 1.0  # three passages, k=3: every gold one is found
    assert report["retrieval"]["hybrid"]["recall@1"] == 1.0
    assert report["retrieval"]["hybrid"]["all_gold@10"] == 1.0
    answers = report["answers"]
    assert set(answers) >= {
        "n",
        "answer_match",
        "citation_precision",
        "abstention_precision",
        "abstention_recall",
        "ttft_median_s",
        "ttft_p90_s",
        "total_median_s",
        "total_p90_s",
    }
    assert answers["n"] == 5
    assert answers["answer_match"] == 1.0  # the fake LLM quotes the best sentence
    assert answers["abstention_recall"] == 1.0  # the off-topic question abstains
    assert report["settings"]["embeddings_provider"] == "fake"
    assert report["settings"]["fusion"] == "score"
    assert "openai_api_key" not in report["settings"]
    assert report["corpus"]["passages"] == 3 and report["questions"]["answerable"] == 4
    details = {d["id"]: d for d in report["answer_details"]}
    assert details["q1"]["citations"] == ["p-lighthouse"]  # citations map back to passage ids
    assert Vectors(fake_settings).names() == []  # both throwaway collections are gone


def test_cli_bench_writes_json(fake_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = build_parser().parse_args(
        [
            "bench",
            "--corpus",
            str(CORPUS),
            "--questions",
            str(QUESTIONS),
            "--retriever",
            "bm25",
            "--k",
            "2",
            "--no-baseline",
            "--json",
            str(out),
        ]
    )
    assert cmd_bench(fake_settings, args) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert list(report["retrieval"]) == ["bm25"]
    assert report["answers"] == {"n": 0}
    assert report["k"] == 2


def test_cli_bench_bad_input_exits_2(tmp_path: Path) -> None:
    assert (
        main(["bench", "--corpus", str(tmp_path / "none.jsonl"), "--questions", str(QUESTIONS)])
        == 2
    )


def test_corpus_titles_are_indexed_with_their_passages(
    fake_settings: Settings, tmp_path: Path
) -> None:
    """Each passage is titled with its row's title (not its file name, which is only its id);
    the title is indexed with it but never part of its text."""
    from chatbot.bench import ingest_corpus, load_corpus
    from chatbot.pipeline import Pipeline

    rows = load_corpus(CORPUS)
    pipeline = Pipeline.build(fake_settings)
    (tmp_path / "corpus").mkdir()
    mapping, report = ingest_corpus(pipeline.index, rows, tmp_path / "corpus")
    assert report.count("added") == len(rows)
    by_id = {row.id: row for row in rows}
    for passage in pipeline.index.chunks(list(mapping)):
        row = by_id[mapping[passage.source]]
        assert passage.context == row.title
        assert row.text[passage.start : passage.end] == passage.text
    [top] = pipeline.retriever.retrieve("lighthouse", k=1, mode="bm25")
    assert mapping[top.source] == "p-lighthouse"
