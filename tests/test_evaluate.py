"""Evaluation suites: schema, every assertion passing and failing, reports, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatbot.cli import build_parser, cmd_eval, main
from chatbot.config import Settings
from chatbot.evaluate import (
    Expect,
    SuiteError,
    load_suite,
    parse_suite,
    run_checks,
    run_suite,
)
from chatbot.pipeline import Pipeline
from chatbot.prompts import DEFAULT_SUITE
from chatbot.vectors import Vectors

SEED_SUITE = Path(str(DEFAULT_SUITE))


def _write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _suite(cases: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "t", "documents": ["seeds/"], "cases": cases, **extra}


# --- schema ------------------------------------------------------------------------------------
def test_shipped_seed_suite_is_valid_and_broad() -> None:
    suite = load_suite(SEED_SUITE)
    assert len(suite.cases) >= 15
    assert len({c.id for c in suite.cases}) == len(suite.cases)
    assert any(c.task == "summarize" for c in suite.cases)
    abstaining = [c for c in suite.cases if c.expect.abstains is True]
    answering = [c for c in suite.cases if c.expect.abstains is False]
    assert len(abstaining) >= 2 and len(answering) >= 10
    assert suite.documents == ["seeds/"]


def test_scalar_strings_become_lists() -> None:
    suite = parse_suite(
        _suite([{"id": "a", "question": "q?", "expect": {"contains": "Kazakhstan"}}]), Path("s")
    )
    assert suite.cases[0].expect.contains == ["Kazakhstan"]
    assert suite.cases[0].task == "ask"


@pytest.mark.parametrize(
    ("case", "extra", "needles"),
    [
        (
            {"id": "c1", "question": "q", "expect": {"contans": ["x"]}},
            {},
            ["'c1'", "expect.contans"],
        ),
        (
            {"id": "c2", "question": "q", "expect": {"max_seconds": "soon"}},
            {},
            ["'c2'", "max_seconds"],
        ),
        ({"id": "c3", "question": "q", "expect": {"regex": "(unclosed"}}, {}, ["'c3'", "regex"]),
        ({"id": "c4", "expect": {"cites": True}}, {}, ["'c4'", "question", "required"]),
        ({"id": "c5", "task": "translate", "question": "q"}, {}, ["'c5'", "task"]),
        (
            {"id": "c6", "question": "q", "expect": {"min_citations": -1}},
            {},
            ["'c6'", "min_citations"],
        ),
        ({"question": "q"}, {}, ["cases[0]", "id"]),
        ({"id": "c7", "question": "q"}, {"settings": {"kk": 3}}, ["settings.kk", "unknown"]),
        ({"id": "c8", "question": "q"}, {"settings": {"data_dir": "/"}}, ["settings.data_dir"]),
        ({"id": "c9", "question": "q"}, {"colour": "red"}, ["colour"]),
    ],
)
def test_invalid_suites_name_case_and_field(
    case: dict[str, Any], extra: dict[str, Any], needles: list[str]
) -> None:
    with pytest.raises(SuiteError) as info:
        parse_suite(_suite([case], **extra), Path("suite.yaml"))
    message = str(info.value)
    assert message.startswith("suite.yaml: ")
    for needle in needles:
        assert needle in message, message


def test_duplicate_ids_and_empty_cases_are_rejected() -> None:
    same = {"id": "twice", "question": "q"}
    with pytest.raises(SuiteError, match=r"'twice'.*duplicate"):
        parse_suite(_suite([same, dict(same)]), Path("s"))
    with pytest.raises(SuiteError, match="field cases"):
        parse_suite(_suite([]), Path("s"))


def test_yaml_errors_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ncases: [\n  - id: a\n", encoding="utf-8")
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_suite(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(SuiteError, match="mapping"):
        load_suite(listed)
    with pytest.raises(SuiteError, match="no such suite"):
        load_suite(tmp_path / "absent.yaml")


def test_invalid_setting_value_names_the_field(fake_settings: Settings, tmp_path: Path) -> None:
    path = _write(tmp_path / "s.yaml", _suite([{"id": "a", "question": "q"}], settings={"k": 0}))
    with pytest.raises(SuiteError, match=r"settings\.k"):
        run_suite(fake_settings, path)


# --- assertions --------------------------------------------------------------------------------
def _result(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "answer": "Xi visits Kazakhstan first [1]. He met Tokayev in 2017 [1].",
        "abstained": False,
        "citations": [{"n": 1, "source": "seeds/xi-kazakhstan-visit.txt", "text": "..."}],
        "sentences": [
            {"text": "Xi visits Kazakhstan first [1].", "citations": [1], "supported": True},
            {"text": "He met Tokayev in 2017 [1].", "citations": [1], "supported": True},
        ],
        "seconds": 2.5,
    }
    base.update(overrides)
    return base


ABSTAINED = _result(
    answer="I could not find this in the documents.", abstained=True, citations=[], sentences=[]
)
HALF_SUPPORTED = _result(
    sentences=[
        {"text": "Xi visits Kazakhstan first [1].", "citations": [1], "supported": True},
        {"text": "He likes tea.", "citations": [], "supported": False},
    ]
)


@pytest.mark.parametrize(
    ("name", "expect", "result", "passed"),
    [
        ("contains", {"contains": ["kazakhstan", "TOKAYEV"]}, _result(), True),
        ("contains", {"contains": ["Kazakhstan", "Putin"]}, _result(), False),
        ("contains_any", {"contains_any": ["Putin", "2017"]}, _result(), True),
        ("contains_any", {"contains_any": ["Putin", "Astana"]}, _result(), False),
        ("not_contains", {"not_contains": ["Uzbekistan"]}, _result(), True),
        ("not_contains", {"not_contains": ["uzbekistan", "tokayev"]}, _result(), False),
        ("regex", {"regex": r"20\d\d"}, _result(), True),
        ("regex", {"regex": r"19\d\d"}, _result(), False),
        ("cites", {"cites": True}, _result(), True),
        ("cites", {"cites": True}, ABSTAINED, False),
        ("cites", {"cites": False}, ABSTAINED, True),
        ("cites", {"cites": False}, _result(), False),
        ("cites_source", {"cites_source": "xi-kazakhstan"}, _result(), True),
        ("cites_source", {"cites_source": "other-article"}, _result(), False),
        ("cites_source", {"cites_source": "xi"}, ABSTAINED, False),
        ("abstains", {"abstains": True}, ABSTAINED, True),
        ("abstains", {"abstains": True}, _result(), False),
        ("abstains", {"abstains": False}, _result(), True),
        ("abstains", {"abstains": False}, ABSTAINED, False),
        ("supported", {"supported": True}, _result(), True),
        ("supported", {"supported": True}, HALF_SUPPORTED, False),
        ("supported", {"supported": True}, ABSTAINED, False),
        ("supported", {"supported": False}, HALF_SUPPORTED, True),
        ("max_seconds", {"max_seconds": 3}, _result(), True),
        ("max_seconds", {"max_seconds": 2}, _result(), False),
        ("min_citations", {"min_citations": 1}, _result(), True),
        ("min_citations", {"min_citations": 2}, _result(), False),
    ],
)
def test_each_assertion_passes_and_fails(
    name: str, expect: dict[str, Any], result: dict[str, Any], passed: bool
) -> None:
    [check] = run_checks(Expect(**expect), result)
    assert check["name"] == name
    assert check["passed"] is passed, check["detail"]
    assert check["detail"]


def test_one_check_per_key_and_none_without_keys() -> None:
    checks = run_checks(Expect(contains=["Xi"], cites=True, max_seconds=9), _result())
    assert [c["name"] for c in checks] == ["contains", "cites", "max_seconds"]
    assert run_checks(Expect(), _result()) == []


# --- running -----------------------------------------------------------------------------------
def _parse(*argv: str) -> Any:
    return build_parser().parse_args(["eval", *argv])


def _collections(settings: Settings) -> list[str]:
    return Vectors(settings).names()


@pytest.fixture
def small_suite(tmp_path: Path, seed_dir: Path) -> Path:
    return _write(
        tmp_path / "small.yaml",
        _suite(
            [
                {
                    "id": "answerable",
                    "question": "Which Kazakh president will Xi hold bilateral talks with?",
                    "expect": {
                        "contains": ["Tokayev"],
                        "cites_source": "xi-kazakhstan",
                        "abstains": False,
                    },
                },
                {
                    "id": "unanswerable",
                    "question": "Quokka marsupial zoology?",
                    "expect": {"abstains": True, "cites": False},
                },
            ],
            settings={"k": 3},
        ),
    )


def test_passing_suite_exits_0_and_writes_reports(
    fake_settings: Settings, small_suite: Path, tmp_path: Path
) -> None:
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    code = cmd_eval(
        fake_settings, _parse(str(small_suite), "--json", str(out_json), "--html", str(out_html))
    )
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert code == 0, report
    assert set(report) >= {"suite", "passed", "failed", "cases"}
    assert (report["suite"], report["passed"], report["failed"]) == ("t", 2, 0)
    for case in report["cases"]:
        assert set(case) >= {
            "id",
            "passed",
            "checks",
            "answer",
            "abstained",
            "citations",
            "timings",
        }
        for check in case["checks"]:
            assert set(check) == {"name", "passed", "detail"}
    first = report["cases"][0]
    assert first["citations"] and first["citations"][0]["source"].endswith(
        "xi-kazakhstan-visit.txt"
    )
    # The case's time covers its answer's own timings (retrieval, then the whole answer).
    timings = first["timings"]
    assert timings["total_s"] >= timings["retrieve_s"] > 0
    assert timings["case_s"] >= timings["total_s"] - 0.001  # case_s is rounded to ms
    assert f"{timings['case_s']:.2f}</td>" in out_html.read_text(encoding="utf-8")
    assert report["cases"][1]["abstained"] is True
    page = out_html.read_text(encoding="utf-8")
    assert "<svg" in page and "answerable" in page
    # The throwaway collection is gone; only nothing (or other collections) remain.
    assert not [c for c in _collections(fake_settings) if c.startswith("eval-")]


def test_failing_case_exits_1(fake_settings: Settings, seed_dir: Path, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "fail.yaml",
        _suite(
            [
                {
                    "id": "ok",
                    "question": "Who is the Kazakh president Tokayev?",
                    "expect": {"abstains": False},
                },
                {
                    "id": "wrong",
                    "question": "Who is the Kazakh president Tokayev?",
                    "expect": {"contains": ["Napoleon"]},
                },
            ]
        ),
    )
    out_json = tmp_path / "r.json"
    assert cmd_eval(fake_settings, _parse(str(path), "--json", str(out_json))) == 1
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert (report["passed"], report["failed"]) == (1, 1)
    [check] = report["cases"][1]["checks"]
    assert check == {"name": "contains", "passed": False, "detail": "missing ['Napoleon']"}


def test_invalid_suite_exits_2(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.yaml",
        _suite([{"id": "x", "question": "q", "expect": {"contains_all": ["a"]}}]),
    )
    assert main(["eval", str(path)]) == 2
    assert main(["eval", str(tmp_path / "absent.yaml")]) == 2


def test_missing_documents_is_a_suite_error(fake_settings: Settings, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.yaml",
        {"name": "t", "documents": ["nowhere/"], "cases": [{"id": "a", "question": "q"}]},
    )
    with pytest.raises(SuiteError, match="'nowhere/' not found"):
        run_suite(fake_settings, path)


def test_existing_collection_is_used_and_kept(
    fake_settings: Settings, seeded: Pipeline, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "s.yaml",
        {
            "name": "t",
            "cases": [
                {
                    "id": "a",
                    "question": "Which Kazakh president is Tokayev?",
                    "expect": {"contains": ["Tokayev"]},
                }
            ],
        },
    )
    report = run_suite(fake_settings, path, collection=fake_settings.collection)
    assert report["passed"] == 1
    assert _collections(fake_settings) == [fake_settings.collection]
    assert seeded.index.count() > 0


def test_summary_case_runs(fake_settings: Settings, seed_dir: Path, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.yaml",
        _suite(
            [
                {
                    "id": "sum",
                    "task": "summarize",
                    "bullets": 3,
                    "expect": {"min_citations": 1, "cites_source": "xi-kazakhstan"},
                }
            ]
        ),
    )
    report = run_suite(fake_settings, path)
    [case] = report["cases"]
    assert case["task"] == "summarize" and case["error"] is None
    assert case["passed"], case["checks"]
    assert case["answer"].startswith("- ")


def test_documents_resolve_from_the_working_dir_then_the_suite_folder(tmp_path: Path) -> None:
    from chatbot.evaluate import resolve_documents

    suite_dir = tmp_path / "project" / "prompts" / "eval"
    suite_dir.mkdir(parents=True)
    (tmp_path / "project" / "docs").mkdir()
    (tmp_path / "docs").mkdir()  # the working directory (tmp_path) wins over the suite's folder
    (tmp_path / "project" / "only-there").mkdir()
    suite = suite_dir / "s.yaml"
    [first, second] = resolve_documents(["docs", "only-there"], suite)
    assert first == tmp_path / "docs"
    assert second == tmp_path / "project" / "only-there"
    with pytest.raises(SuiteError, match="'missing' not found"):
        resolve_documents(["missing"], suite)


# --- issue 13 item 11: a suite may set retrieval and answer knobs only --------------------------
@pytest.mark.parametrize(
    "override",
    [
        {"llm_provider": "openai", "openai_base_url": "{url}"},
        {"openai_base_url": "{url}"},
        {"embeddings_provider": "openai", "openai_base_url": "{url}"},
        {"openai_api_key": "sk-suite-supplied"},
        {"data_dir": "/tmp/elsewhere"},
        {"collection": "chatbot"},
        {"chroma_host": "127.0.0.1"},
        {"chroma_port": 8001},
        {"gguf_path": "/tmp/other.gguf"},
        {"chat_model": "gpt-4o"},
    ],
)
def test_a_suite_cannot_redirect_the_model_key_or_storage(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    seed_dir: Path,
    override: dict[str, Any],
) -> None:
    from fault_server import FaultServer

    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_EMBEDDINGS_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-users-own-key")
    with FaultServer(["ok"]) as listener:
        settings = {k: str(v).format(url=listener.base_url) for k, v in override.items()}
        cases = [{"id": "a", "question": "Which country does Xi visit first?"}]
        path = _write(tmp_path / "s.yaml", _suite(cases, settings=settings))
        assert main(["eval", str(path)]) == 2
        assert listener.requests == []  # nothing, least of all the user's key, was sent
    err = capsys.readouterr().err
    field = next(iter(override))
    assert f"settings.{field}" in err and "only" in err
    assert "Traceback" not in err


def test_a_suite_may_tune_retrieval_and_answers(
    fake_settings: Settings, seed_dir: Path, tmp_path: Path
) -> None:
    knobs = {
        "k": 2, "retriever": "bm25", "mmr": True, "mmr_lambda": 0.5, "min_relevance": 0.1,
        "passage_chars": 300, "max_answer_tokens": 200, "temperature": 0.0, "chunk_size": 500,
        "chunk_overlap": 50, "request_timeout": 300, "max_retries": 1, "max_question_chars": 500,
    }
    cases = [{"id": "a", "question": "Which country does Xi visit first?"}]
    report = run_suite(fake_settings, _write(tmp_path / "s.yaml", _suite(cases, settings=knobs)))
    assert report["settings"] == knobs and report["passed"] == 1
