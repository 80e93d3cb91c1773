"""`Chatbot`'s measuring methods: evaluation suites, benchmarks and preparing the embedded
models. Front ends reach them on `Chatbot` as before; they live here because none of them
touches the chat session's state (the pipeline it keeps, its collections, its lock).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatbot.config import Settings
from chatbot.service_errors import openai_errors

ProgressFn = Callable[[str, int, int], None]
CaseProgress = Callable[[int, int, dict[str, Any]], None]


class Measuring:
    """Mixed into `Chatbot`; needs only its settings."""

    settings: Settings

    @staticmethod
    def bundled_suites() -> list[Path]:
        """The evaluation suites that ship with chatbot (the first is the default)."""
        from chatbot.prompts import SUITES_DIR

        return sorted(
            Path(str(p)) for p in SUITES_DIR.iterdir() if p.name.endswith((".yaml", ".yml"))
        )

    def evaluate(
        self,
        suite: Path | str | None = None,
        *,
        collection: str | None = None,
        progress: CaseProgress | None = None,
        ingest_progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        """Run an evaluation suite (default: the bundled one) on its own throwaway index, or
        on `collection`; returns the report (`chatbot.eval_report.html_report` renders it)."""
        from chatbot.evaluate import run_suite
        from chatbot.prompts import DEFAULT_SUITE

        path = Path(str(suite if suite is not None else DEFAULT_SUITE))
        with openai_errors(self.settings):
            return run_suite(
                self.settings, path, collection=collection, progress=progress,
                ingest_progress=ingest_progress,
            )

    def bench(
        self, corpus: Path | str, questions: Path | str, **options: Any
    ) -> dict[str, Any]:
        """Retrieval (and optionally answer) metrics on corpus/questions JSONL
        (`chatbot.bench.run_benchmark` options: retrievers, k, answers, baseline, limit)."""
        from chatbot.bench import run_benchmark

        with openai_errors(self.settings):
            return run_benchmark(self.settings, Path(corpus), Path(questions), **options)

    def prepare_models(self, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Assemble and verify the embedded models, start each once; a report per model."""
        from chatbot.local_models import prepare_models

        return prepare_models(self.settings, progress)
