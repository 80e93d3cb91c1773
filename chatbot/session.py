"""`Chatbot`: the one object every front end (CLI, Streamlit app, HTTP server) talks to.

It is built from one `Settings`, owns the heavy objects (embeddings, index, retriever, chat
model; built on first use) and decides what front ends must not decide twice: how a chat
message is routed ("summarize ..." reads every chunk, anything else is a question), where
uploads go and what removing an uploaded source deletes. Every failure it lets through is a
`ChatbotError`. Heavy modules are imported inside the methods, so `import chatbot` stays cheap
(the loader worker and the lock script import chatbot modules too).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.config import Settings, describe_settings_error, get_settings
from chatbot.errors import ChatbotError, ConfigError
from chatbot.models import (
    Answer,
    Citation,
    CollectionInfo,
    IngestReport,
    SourceRecord,
    Summary,
    Turn,
)
from chatbot.service_errors import openai_errors
from chatbot.session_measure import Measuring
from chatbot.uploads import UPLOAD_TYPES, Upload

if TYPE_CHECKING:
    from chatbot.pipeline import Models, Pipeline
    from chatbot.preview import Preview
    from chatbot.watch import WatchBatch

ProgressFn = Callable[[str, int, int], None]
StatusFn = Callable[[str], None]

#: What `Chatbot.reply` reports while it reads every chunk for a summary.
SUMMARY_STATUS = "Reading every chunk to summarize…"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `.env` (plus overrides); invalid ones are a
    `ConfigError` whose message names the variable (never the value: it may be a key)."""
    from pydantic import ValidationError

    try:
        return get_settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_settings_error(exc)) from None


class Chatbot(Measuring):
    """One configured chatbot. Thread-safe to share: the pipeline is built once under a lock,
    the index serialises its own writes, and questions read through snapshots."""

    #: File types `upload` accepts (the loaders decide what can actually be read).
    UPLOAD_TYPES = UPLOAD_TYPES

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()
        self._models: Models | None = None  # shared with the chatbots `using` returns
        self._others: dict[str, Chatbot] = {}

    # --- the heavy objects ----------------------------------------------------------------
    @property
    def pipeline(self) -> Pipeline:
        """Embeddings, index and retriever (opened on first use; the chat model lazily)."""
        with self._lock:
            if self._pipeline is None:
                from chatbot.pipeline import Models, Pipeline

                self._models = self._models or Models(self.settings)
                self._pipeline = Pipeline.build(self.settings, self._models)
            return self._pipeline

    # --- collections ----------------------------------------------------------------------
    @property
    def collection(self) -> str:
        """The collection this chatbot reads and writes (`CHATBOT_COLLECTION`)."""
        return self.settings.collection

    def using(self, collection: str) -> Chatbot:
        """This chatbot on another collection of the same data dir, sharing the embeddings
        and the chat model (one model server for every collection). Made on first use and
        kept; the collection is created on first use like the default one (front ends check
        it exists with `collection_exists` first)."""
        from chatbot.collections import check_name
        from chatbot.pipeline import Models

        if check_name(collection) == self.collection:
            return self
        with self._lock:
            other = self._others.get(collection)
            if other is None:
                other = Chatbot(self.settings.with_overrides(collection=collection))
                self._models = self._models or Models(self.settings)
                other._models = self._models
                self._others[collection] = other
            return other

    def collections(self) -> list[CollectionInfo]:
        """Every collection of the data dir: name, sources, chunks, embedding model."""
        from chatbot.collections import is_legacy, list_collections

        if is_legacy(self.settings, self.collection):  # take it over now, so it is listed
            with contextlib.suppress(ChatbotError):
                self.open()
        return list_collections(self.settings)

    def collection_exists(self, collection: str) -> bool:
        from chatbot.collections import check_name, exists

        return exists(self.settings, check_name(collection))

    def create_collection(self, collection: str) -> CollectionInfo:
        """A new, empty collection that records the configured embedding model now."""
        from chatbot.collections import check_name, create
        from chatbot.pipeline import Models

        settings = self.settings.with_overrides(collection=check_name(collection))
        with self._lock:
            self._models = self._models or Models(self.settings)
        return create(settings, self._models.embeddings)

    def delete_collection(self, collection: str) -> CollectionInfo:
        """Delete a collection with its documents, vectors and uploaded files (what it held is
        returned); refused with a `BusyError` while another process writes the data dir."""
        from chatbot.collections import check_name, delete

        settings = self.settings.with_overrides(collection=check_name(collection))
        info = delete(settings)
        with self._lock:
            self._others.pop(collection, None)
        return info

    def open(self) -> Chatbot:
        """Open the index and embeddings now (instead of on the first call)."""
        _ = self.pipeline
        return self

    def start_warm_up(self) -> None:
        """Start the model and fill its prompt cache in the background (`CHATBOT_WARM_START`),
        so the first question does not wait for them."""
        if self.settings.warm_start:
            from chatbot.pipeline import Models
            from chatbot.warm_start import start_warm_up

            with self._lock:  # the models only: no collection has to open for this
                self._models = self._models or Models(self.settings)
            start_warm_up(self._models)

    def start_model(self) -> None:
        """Start (or connect to) the chat model now, e.g. before serving the first request."""
        _ = self.pipeline.chat

    def setup_problem(self) -> str | None:
        """A one-line problem with the configuration that will stop every answer, or None."""
        from chatbot.providers import setup_problem

        return setup_problem(self.settings)

    @property
    def uploads_dir(self) -> Path:
        from chatbot.collections import uploads_dir

        return uploads_dir(self.settings)

    # --- documents ------------------------------------------------------------------------
    def count(self) -> int:
        """Chunks in the index."""
        return self.pipeline.index.count()

    def sources(self) -> list[SourceRecord]:
        return self.pipeline.index.sources()

    def ingest(
        self,
        paths: Sequence[Path | str],
        *,
        prune: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Add new files and folders, update changed ones (bad files are reported skipped)."""
        from chatbot.ingest import ingest

        return ingest(
            self.pipeline.index, [Path(p) for p in paths], prune=prune, include=include,
            exclude=exclude, progress=progress or _no_progress,
        )

    def watch(
        self,
        paths: Sequence[Path | str],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        changes: Iterable[Iterable[tuple[Any, str]]] | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[WatchBatch]:
        """Keep the index in step with files and folders: a catch-up batch (added, changed,
        moved and deleted files since the last ingest), then one batch per burst of changes,
        debounced by `watch_debounce_ms` (or per group of `changes`, e.g. in tests). Ends when
        `stop` is set or on Ctrl-C while waiting; Ctrl-C during a batch raises
        KeyboardInterrupt (the index stays consistent, the next run finishes the batch)."""
        from chatbot.watch import FolderSync, file_changes

        sync = FolderSync(
            self.pipeline.index, [Path(p) for p in paths], include=include, exclude=exclude
        )
        if changes is None:
            changes = file_changes(
                sync.folders, self.settings.watch_debounce_ms, stop, recursive=sync.recursive
            )
        return sync.run(changes)

    def upgrade(self, progress: ProgressFn | None = None) -> int:
        """Bring documents indexed by an older version (or with CHATBOT_HEADINGS_IN_INDEX the
        other way) to the current index format, from their stored text; every ingest does this
        first. Returns how many documents were upgraded."""
        from chatbot.upgrade import upgrade

        index = self.pipeline.index
        return upgrade(index, index.active(), progress or _no_progress)

    def reindex(self, *, prune: bool = False, progress: ProgressFn | None = None) -> IngestReport:
        """Read every indexed source again from its file (and drop missing ones with prune)."""
        from chatbot.ingest import reindex_all

        return reindex_all(self.pipeline.index, prune=prune, progress=progress or _no_progress)

    def rebuild(
        self,
        paths: Sequence[Path | str] | None = None,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Build a new index beside the active one (from `paths`, or every indexed source)
        and switch to it when complete; works whatever embedding model built the old one."""
        from chatbot.index import Index
        from chatbot.ingest import rebuild
        from chatbot.providers import make_embeddings

        index = Index(self.settings, make_embeddings(self.settings), check_model=False)
        chosen = None if paths is None else [Path(p) for p in paths]
        return rebuild(
            index, chosen, include=include, exclude=exclude, progress=progress or _no_progress
        )

    def upload(self, uploads: Sequence[Upload], progress: ProgressFn | None = None) -> IngestReport:
        """Save uploaded files (untrusted names and bytes) under `<data_dir>/uploads/` and
        index them, with the app's checks: type, size, load limits, no file lost."""
        from chatbot.loaders import LoadLimits
        from chatbot.uploads import ingest_uploads

        return ingest_uploads(
            self.pipeline.index, list(uploads), self.uploads_dir,
            LoadLimits.from_settings(self.settings), progress or _no_progress,
        )

    def remove(self, source: str) -> int:
        """Delete one source from the index (and its uploaded copy, if it was uploaded);
        returns the chunks deleted. An unknown name is an `UnknownSourceError`."""
        path = str(Path(source).expanduser().resolve())
        record = next((r for r in self.sources() if source in (r.source, r.path)), None)
        record = record or next((r for r in self.sources() if r.path == path), None)
        deleted = self.pipeline.index.remove(source)
        if record is not None and Path(record.path).parent == self.uploads_dir.resolve():
            with contextlib.suppress(FileNotFoundError):
                Path(record.path).unlink()
        return deleted

    def preview(self, citation: Citation) -> Preview:
        """Where a citation stands: its PDF page rendered with the supporting sentence
        highlighted, or the passage in its surrounding text (see chatbot/preview.py)."""
        from chatbot.preview import preview_citation

        return preview_citation(self.pipeline.index, citation, self.settings)

    # --- answers --------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        k: int | None = None,
        sources: list[str] | None = None,
        mode: str | None = None,
        mmr: bool | None = None,
        status: StatusFn | None = None,
    ) -> Iterator[str | Answer]:
        """Answer tokens as they arrive, then the checked `Answer` (always last).

        `k`, `sources`, `mode` and `mmr` override the settings for this question; closing the
        iterator early stops the generation."""
        from chatbot.answer import stream_answer

        with openai_errors(self.settings):
            yield from stream_answer(
                self.pipeline, question, history, k=k, sources=sources, mode=mode, mmr=mmr,
                status=status,
            )

    def ask(self, question: str, history: Sequence[Turn] = (), **options: Any) -> Answer:
        """`stream` without the tokens: the checked `Answer` (options as for `stream`)."""
        from chatbot.answer import ask

        with openai_errors(self.settings):
            return ask(self.pipeline, question, history, **options)

    def reply(
        self,
        message: str,
        history: Sequence[Turn] = (),
        *,
        status: StatusFn | None = None,
        **options: Any,
    ) -> Iterator[str | Answer]:
        """A chat turn: "summarize ..." gets a cited summary of the documents it names (or
        all), shaped as an `Answer`; anything else is a question (`stream`). Yields text,
        then the `Answer`, either way."""
        from chatbot.summarize import is_summary_request, summary_as_answer

        if not is_summary_request(message):
            yield from self.stream(message, history, status=status, **options)
            return
        if status:
            status(SUMMARY_STATUS)
        with openai_errors(self.settings):
            answer = summary_as_answer(self.pipeline, message)
        yield answer.answer
        yield answer

    def summarize(
        self,
        sources: Sequence[str] | None = None,
        bullets: int = 5,
        progress: Callable[[int, int], None] | None = None,
    ) -> Summary:
        """Cited bullets over every chunk of `sources` (default: everything indexed)."""
        from chatbot.summarize import summarize

        with openai_errors(self.settings):
            return summarize(self.pipeline, list(sources) if sources else None, bullets, progress)

    @property
    def max_bullets(self) -> int:
        """The most bullets `summarize` accepts."""
        from chatbot.summarize import MAX_BULLETS

        return MAX_BULLETS


def _no_progress(stage: str, done: int, total: int) -> None:
    """Progress callback that ignores the report."""
