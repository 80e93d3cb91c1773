"""Scripted evaluation suites: YAML cases with assertions, run against a throwaway index.

A suite says which documents to index, which settings to change and what each answer (or
summary) must satisfy, so a change of model, prompt, chunking or data can be checked with one
command that exits non-zero when an answer got worse. Reports are JSON (for CI and diffs) and a
self-contained HTML page (for people).
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatbot.config import Settings
from chatbot.errors import InvalidRequestError
from chatbot.eval_checks import check
from chatbot.eval_checks import run_checks as run_checks  # re-exported: tests import it here
from chatbot.ingest import ingest
from chatbot.pipeline import Pipeline

#: Called after each case with (done, total, case report).
CaseProgress = Callable[[int, int, dict[str, Any]], None]
#: The only settings a suite may change: retrieval and answer knobs. Which model service is
#: called with which key, and where the index lives, stay the user's choice (a shared suite
#: must not send the user's key to a server of its choosing).
SUITE_SETTINGS = frozenset(
    {
        "k", "retriever", "mmr", "mmr_lambda", "min_relevance", "passage_chars",
        "max_question_chars", "max_answer_tokens", "temperature", "chunk_size", "chunk_overlap",
        "request_timeout", "max_retries",
    }
)


class SuiteError(InvalidRequestError, ValueError):
    """The suite file is invalid or cannot run; the message names the case and the field."""


# --- schema ------------------------------------------------------------------------------------
def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Expect(BaseModel):
    """What an answer must satisfy; every key is optional and each one is one check."""

    model_config = ConfigDict(extra="forbid")

    contains: list[str] = Field(default_factory=list)
    contains_any: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)
    regex: str | None = None
    cites: bool | None = None
    cites_source: str | None = None
    abstains: bool | None = None
    supported: bool | None = None
    max_seconds: float | None = Field(default=None, gt=0)
    min_citations: int | None = Field(default=None, ge=0)

    _to_list = field_validator("contains", "contains_any", "not_contains", mode="before")(_as_list)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    task: Literal["ask", "summarize"] = "ask"
    question: str | None = None
    #: Bullets asked of a summary case.
    bullets: int = Field(default=5, ge=1, le=20)
    expect: Expect = Field(default_factory=Expect)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    documents: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)

    _to_list = field_validator("documents", mode="before")(_as_list)


def _case_label(raw: Any, index: int) -> str:
    cases = raw.get("cases") if isinstance(raw, dict) else None
    case = cases[index] if isinstance(cases, list) and index < len(cases) else None
    case_id = case.get("id") if isinstance(case, dict) else None
    return f"case {case_id!r} (cases[{index}])" if case_id else f"cases[{index}]"


def _explain(path: Path, raw: Any, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        loc = list(error["loc"])
        where = "suite"
        if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
            where = _case_label(raw, loc[1])
            loc = loc[2:]
        field = ".".join(map(str, loc)) or "value"
        parts.append(f"{where}: field {field}: {error['msg']}")
    return f"{path}: " + "; ".join(parts)


def parse_suite(raw: Any, path: Path) -> Suite:
    """Validate a loaded YAML document; errors name the case and the field."""
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: a suite is a mapping with name, documents, settings, cases")
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(_explain(path, raw, exc)) from None
    seen: set[str] = set()
    for index, case in enumerate(suite.cases):
        label = _case_label(raw, index)
        if case.id in seen:
            raise SuiteError(f"{path}: {label}: field id: duplicate id {case.id!r}")
        seen.add(case.id)
        if case.task == "ask" and not case.question:
            raise SuiteError(f"{path}: {label}: field question: required for task ask")
    for key in suite.settings:
        if key not in Settings.model_fields:
            raise SuiteError(f"{path}: field settings.{key}: unknown setting")
        if key not in SUITE_SETTINGS:
            raise SuiteError(
                f"{path}: field settings.{key}: a suite may only change retrieval and answer "
                f"settings ({', '.join(sorted(SUITE_SETTINGS))}); {key} stays as configured"
            )
    return suite


def load_suite(path: Path) -> Suite:
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SuiteError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_suite(raw, path)


def suite_settings(settings: Settings, suite: Suite, path: Path) -> Settings:
    """Apply the suite's overrides; an invalid value is a suite error naming the field."""
    try:
        return settings.with_overrides(**suite.settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(map(str, first["loc"])) or "value"
        raise SuiteError(f"{path}: field settings.{field}: {first['msg']}") from None


def resolve_documents(documents: Sequence[str], suite_path: Path) -> list[Path]:
    """Relative paths are looked up in the working directory, then in the suite's folder and
    its parents (so `seeds/` works from the repository root and from the suite's folder)."""
    bases = [Path.cwd(), suite_path.resolve().parent, *suite_path.resolve().parent.parents]
    resolved = []
    for document in documents:
        path = Path(document).expanduser()
        candidates = [path] if path.is_absolute() else [base / path for base in bases]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise SuiteError(f"{suite_path}: field documents: {document!r} not found")
        resolved.append(found)
    return resolved


# --- throwaway collections ---------------------------------------------------------------------
@contextlib.contextmanager
def throwaway_pipeline(settings: Settings, prefix: str) -> Iterator[Pipeline]:
    """A pipeline on a fresh, uniquely named collection in the same data dir, deleted after."""
    from chatbot.index import drop_index

    scoped = settings.with_overrides(collection=f"{prefix}-{uuid.uuid4().hex[:12]}")
    try:
        yield Pipeline.build(scoped)
    finally:
        drop_index(scoped, forget=True)


# --- running -----------------------------------------------------------------------------------
def _citation_json(citation: Any) -> dict[str, Any]:
    data = asdict(citation)
    return {
        key: data[key]
        for key in ("n", "source", "chunk_id", "start", "end", "page", "ocr", "text")
        if key in data
    }


def _ask(pipeline: Pipeline, case: Case) -> dict[str, Any]:
    from chatbot.answer import ask

    assert case.question is not None
    answer = ask(pipeline, case.question)
    return {
        "answer": answer.answer,
        "abstained": answer.abstained,
        "citations": [_citation_json(c) for c in answer.citations],
        "sentences": [asdict(s) for s in answer.sentences],
        "timings": dict(answer.timings),
        "notes": list(answer.notes),
    }


def _summarize(pipeline: Pipeline, case: Case) -> dict[str, Any]:
    from chatbot.summarize import summarize

    summary = summarize(pipeline, sources=None, bullets=case.bullets)
    bullets: list[dict[str, Any]] = [
        {"text": b.text, "citations": list(b.citations), "supported": b.supported}
        for b in summary.bullets
    ]
    text = "\n".join(f"- {b.text}" for b in summary.bullets)  # markers are in the text
    return {
        "answer": text,
        "abstained": False,
        "citations": [_citation_json(c) for c in summary.citations],
        "sentences": bullets,
        "timings": dict(summary.timings),
        "notes": list(summary.notes),
    }


def run_case(pipeline: Pipeline, case: Case) -> dict[str, Any]:
    """Run one case; a failure of the case itself (bad question, model error) fails the case,
    it does not stop the suite."""
    from chatbot.answer import AnswerError
    from chatbot.service_errors import ModelServiceError

    started = time.perf_counter()
    error: str | None = None
    try:
        result = _ask(pipeline, case) if case.task == "ask" else _summarize(pipeline, case)
    except (AnswerError, ModelServiceError) as exc:
        error = str(exc)
        result = {
            "answer": "",
            "abstained": False,
            "citations": [],
            "sentences": [],
            "timings": {},
            "notes": [],
        }
    result["seconds"] = round(time.perf_counter() - started, 3)
    checks = [check("run", False, error)] if error else run_checks(case.expect, result)
    return {
        "id": case.id,
        "task": case.task,
        "question": case.question,
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "answer": result["answer"],
        "abstained": result["abstained"],
        "citations": result["citations"],
        "timings": {**result["timings"], "case_s": result["seconds"]},
        "notes": result["notes"],
        "error": error,
    }


def run_suite(
    settings: Settings,
    path: Path,
    *,
    collection: str | None = None,
    progress: CaseProgress | None = None,
    ingest_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Validate, index the suite's documents (unless `collection` is given), run every case."""
    suite = load_suite(path)
    scoped = suite_settings(settings, suite, path)
    started = time.perf_counter()
    if collection:
        pipeline_cm: contextlib.AbstractContextManager[Pipeline] = contextlib.nullcontext(
            Pipeline.build(scoped.with_overrides(collection=collection))
        )
    else:
        if not suite.documents:
            raise SuiteError(f"{path}: field documents: needed unless --collection is given")
        paths = resolve_documents(suite.documents, path)
        pipeline_cm = throwaway_pipeline(scoped, "eval")
    report: dict[str, Any] = {"suite": suite.name, "passed": 0, "failed": 0, "cases": []}
    with pipeline_cm as pipeline:
        if not collection:
            ingested = ingest(pipeline.index, paths, progress=ingest_progress or _no_progress)
            if pipeline.index.count() == 0:
                reasons = "; ".join(f"{f.source}: {f.reason}" for f in ingested.files)
                raise SuiteError(f"{path}: no documents could be indexed ({reasons or 'none'})")
        elif pipeline.index.count() == 0:
            raise SuiteError(f"collection {collection!r} is empty; run `chatbot ingest` first")
        for done, case in enumerate(suite.cases, 1):
            case_report = run_case(pipeline, case)
            report["cases"].append(case_report)
            report["passed" if case_report["passed"] else "failed"] += 1
            if progress:
                progress(done, len(suite.cases), case_report)
        report["model"] = pipeline.settings.chat_model
        report["embedding_model"] = pipeline.settings.embedding_model
        report["collection"] = collection
        report["settings"] = dict(suite.settings)
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _no_progress(stage: str, done: int, total: int) -> None:
    return None
