"""Retrieval and answer metrics on a public corpus/questions JSONL benchmark, beside a baseline.

The corpus is ingested into a throwaway collection (one file per passage, named after the passage
id, so every chunk's source leads back to its passage) and each question is asked of every
retriever. Recall counts distinct passages, so a passage split into several chunks is not counted
twice. The baseline is the plain LangChain quick-start pipeline (1000/200 character splitter,
dense top-k, same embeddings) in its own throwaway Chroma collection, so numbers can be compared
on the same data and the same machine. Answers (optional, slow with the embedded model) are
scored with SQuAD's answer normalisation.
"""

from __future__ import annotations

import re
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbot.bench_metrics import (
    AnswerRecord,
    answer_metrics,
    distinct,
    retrieval_metrics,
)
from chatbot.config import Settings
from chatbot.errors import InvalidRequestError
from chatbot.pipeline import Pipeline

#: Called as progress(stage, done, total).
ProgressFn = Callable[[str, int, int], None]
#: Retrievers of `--retriever all`; "hybrid_rrf" is plain reciprocal-rank fusion, for reference.
ALL_RETRIEVERS = ("hybrid", "dense", "bm25", "hybrid_rrf")
BASELINE_CHUNK_SIZE = 1000
BASELINE_CHUNK_OVERLAP = 200
#: Chunks fetched per question for each k distinct passages wanted.
CHUNKS_PER_PASSAGE = 4
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
_Row = TypeVar("_Row", bound=BaseModel)


class BenchError(InvalidRequestError, ValueError):
    """The benchmark files are missing or malformed; the message names file, line and field."""


def _noop(stage: str, done: int, total: int) -> None:
    return None


# --- input files ------------------------------------------------------------------------------
class CorpusRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    title: str = ""
    text: str = Field(min_length=1)


class QuestionRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list)
    gold_passage_ids: list[str] = Field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.gold_passage_ids)


def _read_jsonl(path: Path, model: type[_Row]) -> list[_Row]:
    import json

    if not path.is_file():
        raise BenchError(f"{path}: no such file")
    rows: list[_Row] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(model.model_validate(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise BenchError(f"{path}:{number}: not JSON ({exc.msg})") from None
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(map(str, first["loc"])) or "row"
                raise BenchError(f"{path}:{number}: {where}: {first['msg']}") from None
    if not rows:
        raise BenchError(f"{path}: no rows")
    return rows


def load_corpus(path: Path) -> list[CorpusRow]:
    rows = _read_jsonl(path, CorpusRow)
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise BenchError(f"{path}: duplicate passage id {row.id!r}")
        seen.add(row.id)
    return rows


def load_questions(path: Path, corpus: Sequence[CorpusRow] | None = None) -> list[QuestionRow]:
    rows = _read_jsonl(path, QuestionRow)
    if corpus is not None:
        known = {row.id for row in corpus}
        for row in rows:
            unknown = [g for g in row.gold_passage_ids if g not in known]
            if unknown:
                raise BenchError(
                    f"{path}: question {row.id!r} names unknown gold passage {unknown[0]!r}"
                )
    return rows


# --- running -----------------------------------------------------------------------------------
def write_corpus(
    rows: Sequence[CorpusRow], folder: Path, titles: dict[str, str] | None = None
) -> dict[str, str]:
    """One .txt file per passage (its text only); returns source name -> passage id. Each
    row's title (possibly "") goes into `titles` by resolved file path, for `ingest_corpus`."""
    from chatbot.discover import name_for

    mapping: dict[str, str] = {}
    for number, row in enumerate(rows):
        stem = row.id if _SAFE_ID.match(row.id) else f"passage-{number:06d}"
        path = folder / f"{stem}.txt"
        path.write_text(row.text, encoding="utf-8")
        mapping[name_for(folder.resolve(), path.resolve())] = row.id
        if titles is not None:
            titles[str(path.resolve())] = row.title
    return mapping


def ingest_corpus(
    index: Any, rows: Sequence[CorpusRow], folder: Path, progress: ProgressFn = _noop
) -> tuple[dict[str, str], Any]:
    """Write the corpus into `folder` and ingest it, each passage titled with its row's title
    (not its file name, which is only its id; with CHATBOT_HEADINGS_IN_INDEX on the title is
    embedded and keyword-indexed with it). Returns (source name -> passage id, IngestReport)."""
    from chatbot.ingest import ingest

    titles: dict[str, str] = {}
    mapping = write_corpus(rows, folder, titles)
    return mapping, ingest(index, [folder], progress=progress, titles=titles)


def _ranked_passages(
    retriever: Any,
    mapping: dict[str, str],
    question: str,
    mode: str,
    k: int,
    mmr_lambda: float | None = None,
) -> list[str]:
    passages = retriever.retrieve(question, k * CHUNKS_PER_PASSAGE, mode, mmr_lambda=mmr_lambda)
    return distinct(mapping.get(p.source, p.source) for p in passages)[:k]


def run_retrieval(
    pipeline: Pipeline,
    mapping: dict[str, str],
    questions: Sequence[QuestionRow],
    retrievers: Sequence[str],
    k: int,
    progress: ProgressFn = _noop,
) -> dict[str, dict[str, Any]]:
    """Metrics per retriever over the answerable questions."""
    from chatbot.retrieve import Retriever

    answerable = [q for q in questions if q.answerable]
    settings = pipeline.settings
    mmr_lambda = settings.mmr_lambda if settings.mmr else None
    results: dict[str, dict[str, Any]] = {}
    for name in retrievers:
        if name == "hybrid_rrf":
            plain = {"dense": 1.0, "bm25": 1.0}
            retriever, mode = Retriever(pipeline.index, "rrf", plain), "hybrid"
        else:
            retriever, mode = pipeline.retriever, name
        runs = []
        started = time.perf_counter()
        for done, q in enumerate(answerable):
            progress(name, done, len(answerable))
            ranked = _ranked_passages(retriever, mapping, q.question, mode, k, mmr_lambda)
            runs.append((ranked, q.gold_passage_ids))
        progress(name, len(answerable), len(answerable))
        results[name] = retrieval_metrics(runs)
        results[name]["seconds"] = round(time.perf_counter() - started, 2)
    return results


def run_baseline(
    pipeline: Pipeline,
    corpus: Sequence[CorpusRow],
    questions: Sequence[QuestionRow],
    k: int,
    progress: ProgressFn = _noop,
) -> dict[str, Any]:
    """LangChain's quick-start: 1000/200 character splitter, dense top-k, same embeddings."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=BASELINE_CHUNK_SIZE, chunk_overlap=BASELINE_CHUNK_OVERLAP
    )
    docs = splitter.create_documents(
        [row.text for row in corpus], metadatas=[{"passage_id": row.id} for row in corpus]
    )
    name = f"bench-base-{uuid.uuid4().hex[:12]}"
    client = pipeline.index.vectors.client()
    store = Chroma(collection_name=name, embedding_function=pipeline.embeddings, client=client)
    started = time.perf_counter()
    try:
        step = pipeline.settings.embed_batch_size
        for begin in range(0, len(docs), step):
            progress("baseline index", begin, len(docs))
            store.add_documents(docs[begin : begin + step])
        progress("baseline index", len(docs), len(docs))
        answerable = [q for q in questions if q.answerable]
        runs = []
        for done, q in enumerate(answerable):
            progress("baseline", done, len(answerable))
            hits = store.similarity_search(q.question, k=k * CHUNKS_PER_PASSAGE)
            ranked = distinct(str(d.metadata["passage_id"]) for d in hits)[:k]
            runs.append((ranked, q.gold_passage_ids))
        progress("baseline", len(answerable), len(answerable))
    finally:
        with suppress(Exception):
            client.delete_collection(name)
    metrics = retrieval_metrics(runs)
    metrics["chunks"] = len(docs)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    return metrics


def run_answers(
    pipeline: Pipeline,
    mapping: dict[str, str],
    questions: Sequence[QuestionRow],
    progress: ProgressFn = _noop,
) -> list[AnswerRecord]:
    from chatbot import guard
    from chatbot.answer import ask

    records = []
    for done, q in enumerate(questions):
        progress("answers", done, len(questions))
        answer = ask(pipeline, q.question)
        records.append(
            AnswerRecord(
                id=q.id,
                question=q.question,
                gold=list(q.gold_passage_ids),
                answers=list(q.answers),
                answer=answer.answer,
                abstained=answer.abstained,
                citations=[(mapping.get(c.source, c.source), c.text) for c in answer.citations],
                first_token_s=answer.timings.get("first_token_s"),
                total_s=float(answer.timings.get("total_s") or 0.0),
                guard_notes=guard.shown_notes(answer.notes),
            )
        )
    progress("answers", len(questions), len(questions))
    return records


def settings_report(settings: Settings, pipeline: Pipeline | None = None) -> dict[str, Any]:
    """The settings that shape results (no secrets, no per-machine paths)."""
    data = settings.model_dump(
        mode="json", exclude={"openai_api_key", "fake_llm_replies", "data_dir", "collection"}
    )
    if pipeline is not None:
        data["fusion"] = pipeline.retriever.fusion
        data["fusion_weights"] = dict(pipeline.retriever.weights)
    return data


def _check_options(retrievers: Sequence[str], k: int) -> None:
    """Fail on bad options before the corpus is read, let alone ingested."""
    unknown = [r for r in retrievers if r not in ALL_RETRIEVERS]
    if unknown:
        raise BenchError(f"unknown retriever {unknown[0]!r}; valid: {', '.join(ALL_RETRIEVERS)}")
    if not 1 <= k <= 50:
        raise BenchError(f"k must be between 1 and 50, got {k}")


def _answer_details(records: Sequence[AnswerRecord]) -> list[dict[str, Any]]:
    """One row per answered question, so a miss can be read next to its gold passages."""
    return [
        {
            "id": r.id,
            "question": r.question,
            "answer": r.answer,
            "abstained": r.abstained,
            "match": r.matched,
            "match_numbers": r.matched_numbers,
            "citations": [pid for pid, _ in r.citations],
            "gold_passage_ids": r.gold,
            "first_token_s": r.first_token_s,
            "total_s": r.total_s,
            "guard_notes": r.guard_notes,
        }
        for r in records
    ]


def run_benchmark(
    settings: Settings,
    corpus_path: Path,
    questions_path: Path,
    *,
    retrievers: Sequence[str] = ALL_RETRIEVERS,
    k: int = 10,
    answers: int = 0,
    baseline: bool = True,
    limit: int | None = None,
    progress: ProgressFn = _noop,
) -> dict[str, Any]:
    """Ingest the corpus into a throwaway collection, measure, drop the collection."""
    from chatbot.evaluate import throwaway_pipeline

    _check_options(retrievers, k)
    corpus = load_corpus(corpus_path)
    questions = load_questions(questions_path, corpus)
    retrieval_questions = questions[:limit] if limit else questions
    started = time.perf_counter()
    report: dict[str, Any] = {
        "corpus": {"path": str(corpus_path), "passages": len(corpus)},
        "questions": {
            "path": str(questions_path),
            "n": len(retrieval_questions),
            "answerable": sum(q.answerable for q in retrieval_questions),
        },
        "k": k,
    }
    with (
        throwaway_pipeline(settings, "bench") as pipeline,
        tempfile.TemporaryDirectory(prefix="chatbot-bench-") as tmp,
    ):
        mapping, ingest = ingest_corpus(
            pipeline.index,
            corpus,
            Path(tmp),
            progress=lambda stage, done, total: progress(f"ingest {stage}", done, total),
        )
        report["corpus"]["chunks"] = pipeline.index.count()
        report["corpus"]["ingest_s"] = round(ingest.seconds, 2)
        retrieval = run_retrieval(pipeline, mapping, retrieval_questions, retrievers, k, progress)
        if baseline:
            retrieval["baseline"] = run_baseline(pipeline, corpus, retrieval_questions, k, progress)
        report["retrieval"] = retrieval
        if answers > 0:
            records = run_answers(pipeline, mapping, questions[:answers], progress)
            report["answers"] = answer_metrics(records)
            report["answer_details"] = _answer_details(records)
        else:
            report["answers"] = {"n": 0}
        report["settings"] = settings_report(pipeline.settings, pipeline)
        report["model"] = {
            "chat": pipeline.settings.chat_model if answers else None,
            "embeddings": pipeline.settings.embedding_model,
        }
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def report_tables(report: dict[str, Any]) -> list[Any]:
    """Rich tables of the retrieval metrics per retriever and of the answer metrics."""
    from rich.table import Table

    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    keys = ("recall@1", "recall@5", "recall@10", "all_gold@10", "mrr@10", "n")
    retrieval = Table("retriever", *keys, title=f"retrieval (top {report['k']} passages)")
    for name, metrics in report["retrieval"].items():
        retrieval.add_row(name, *(fmt(metrics.get(key)) for key in keys))
    tables = [retrieval]
    answers = report.get("answers") or {}
    if answers.get("n"):
        table = Table("metric", "value", title=f"answers ({answers['n']} questions)")
        for key, value in answers.items():
            table.add_row(key, fmt(value))
        tables.append(table)
    return tables
