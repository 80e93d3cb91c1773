"""Ingestion, the stage that turns files into index entries:
discover → load → fingerprint → split → embed → commit (→ prune).

Files are read, split and embedded a batch at a time *outside* the data dir's write lock; the
lock is held only to commit a batch (chatbot/writes.py), after checking that no file changed
since it was read (one that did is read again). So a slow parser never blocks other writers.

Unchanged files are recognised by size and mtime without being read, then by a fingerprint of
their text (and of the settings that decide chunking). An edited file re-embeds only chunk text
it did not have before; vectors left by an ingest that was killed are reused.

Source names do not depend on the working directory: a file found in a folder is named
`<folder name>/<path inside it>` (`chatbot ingest ~/work/docs` gives `docs/sub/a.pdf`), a file
given directly `<its folder name>/<file name>`; when another file already has that name, more of
the path goes in front. A file keeps its name for good: it is identified by its resolved path,
so ingesting it again from anywhere updates the same source. Links inside a folder that point
outside it are skipped with a reason: only what is really in the folder is indexed.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path

from chatbot.discover import Found, discover
from chatbot.embed import Embedder
from chatbot.headings import outline, title_from_name, with_context
from chatbot.index import DocumentWrite, Index, IndexError_, Space, store_errors
from chatbot.loaders import LoadedDocument, LoadLimits, MissingDependencyError, SkipFile, load
from chatbot.locking import guarded_write
from chatbot.models import Chunk, FileReport, IngestReport
from chatbot.records import KnownDocument
from chatbot.splitting import mark_ocr, split_text
from chatbot.upgrade import upgrade

#: Called as progress(stage, done, total) with stage "files" or "embed".
ProgressFn = Callable[[str, int, int], None]

#: Bump when splitting changes in a way that should re-chunk unchanged files.
SPLITTER_VERSION = 4
#: How a recipe ends for each CHATBOT_HEADINGS_IN_INDEX (chatbot/upgrade.py reads it back).
HEADINGS_MARK = {"off": "", "keyword": "/k", "on": "/h"}
#: Embedding batches per commit: a larger pool sorts by length better (less padding), and each
#: commit is one short hold of the write lock.
WRITE_BATCHES = 16
#: How often a file that keeps changing while it is read is read again.
REREADS = 3


class IngestError(IndexError_):
    """The request itself is wrong (e.g. pruning a folder that is not there); nothing changed."""


def _noop(stage: str, done: int, total: int) -> None:
    return None


# --- load, fingerprint, split -------------------------------------------------------------------
def recipe(index: Index) -> str:
    """The settings that decide how a text is chunked and indexed; a change re-chunks every
    file (its end says where titles and headings go, see `HEADINGS_MARK`)."""
    s = index.settings
    mark = HEADINGS_MARK[s.headings_in_index]
    return f"{SPLITTER_VERSION}/{s.chunk_size}/{s.chunk_overlap}{mark}"


def fingerprint(index: Index, document: LoadedDocument, made_by: str | None = None) -> str:
    """Changes with the text and with anything that changes how it is chunked or indexed
    (`made_by`: the recipe it was split with, when not the current one)."""
    layout = f"{int(document.markdown)}/{','.join(map(str, document.page_starts))}"
    if document.ocr_pages:
        layout += f"/ocr:{','.join(map(str, document.ocr_pages))}"
    layout += "/" + ",".join(f"{a}-{b}" for a, b in document.tables)
    if index.settings.headings_in_index != "off":
        layout += f"/{document.title}"
    made_by = recipe(index) if made_by is None else made_by
    return hashlib.sha256(f"{made_by}/{layout}\0{document.text}".encode()).hexdigest()


def split(index: Index, path: str, name: str, document: LoadedDocument) -> tuple[list[Chunk], str]:
    """The document's chunks (with their context lines when titles and headings are indexed)
    and its title (stored either way, so turning the setting on later keeps it)."""
    settings = index.settings
    chunks = mark_ocr(split_text(
        document.text, name, settings.chunk_size, settings.chunk_overlap,
        markdown=document.markdown, page_starts=document.page_starts, tables=document.tables,
    ), document.ocr_pages)
    fallback = title_from_name(path) if path.lower().endswith(".pdf") else ""
    doc = outline(document.text, document.markdown, document.title, fallback)
    if settings.headings_in_index == "off":
        return chunks, doc.title
    return with_context(chunks, doc, embed=settings.headings_in_index == "on"), doc.title


def _stat(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def read(
    index: Index,
    item: Found,
    known: KnownDocument | None,
    report: IngestReport,
    titles: Mapping[str, str] | None = None,
) -> DocumentWrite | None:
    """Load and split a new or changed file; None when it is unchanged or must be skipped
    (reported). Unchanged files are recognised by size and mtime first (no read at all)."""
    try:
        stat = _stat(item.real)
    except OSError as exc:
        report.files.append(FileReport(item.name, "skipped", reason=f"cannot read ({exc})"))
        return None
    current = recipe(index)
    if known and (known.size, known.mtime_ns, known.recipe) == (*stat, current):
        report.files.append(FileReport(known.source, "unchanged", chunks=known.chunks))
        return None
    kept = " (its previous version stays indexed)" if known else ""
    name = known.source if known else item.name
    try:
        document = load(item.real, LoadLimits.from_settings(index.settings))
    except SkipFile as exc:
        report.files.append(FileReport(name, "skipped", reason=f"{exc}{kept}"))
        return None
    except MissingDependencyError:  # an install problem: stop once, not skip every file
        raise
    except Exception as exc:  # a parser choking on a corrupt file is a user error
        reason = f"could not be read: {type(exc).__name__}: {exc}".splitlines()[0][:200]
        report.files.append(FileReport(name, "skipped", reason=f"{reason}{kept}"))
        return None
    if titles and str(item.real) in titles:
        document.title = titles[str(item.real)]
    write = DocumentWrite(
        str(item.real), str(item.root), name, stat, fingerprint(index, document), current,
        document.text, list(document.page_starts), list(document.notes),
        tables=list(document.tables), ocr_pages=list(document.ocr_pages),
    )
    if known and known.fingerprint == write.fingerprint:
        return write  # same text, new mtime: the commit only remembers the new stat
    write.chunks, write.title = split(index, str(item.real), name, document)
    if not write.chunks:
        reason = f"no text to index (only repeated boilerplate){kept}"
        report.files.append(FileReport(name, "skipped", reason=reason))
        return None
    return write


# --- commit, prune ----------------------------------------------------------------------------
def _commit(
    index: Index, space: Space, batch: list[tuple[Found, DocumentWrite]], report: IngestReport
) -> list[Found]:
    """Commit what did not change since it was read; returns the files to read again."""
    again: list[Found] = []
    with guarded_write(index):
        ready = []
        for item, write in batch:
            try:
                same = _stat(item.real) == write.stat
            except OSError:
                same = False
            if same:
                ready.append((item, write))
            else:
                again.append(item)
        results = index.commit(space, [write for _, write in ready])
    for (item, write), result in zip(ready, results, strict=True):
        if result.status == "changed":
            again.append(item)
            continue
        report.chunks_written += result.written
        report.chunks_deleted += result.deleted
        report.files.append(
            FileReport(result.source, result.status, chunks=result.chunks, notes=write.notes)
        )
    return again


def _refuse(root: Path, state: str, count: int) -> IngestError:
    return IngestError(
        f"{root} {state} (moved, renamed, or a drive that is not mounted?); nothing was pruned "
        f"or ingested. {count} indexed source(s) came from it: fix the path, or remove them "
        "with `chatbot remove NAME`"
    )


def own_files(index: Index, paths: Sequence[Path]) -> list[str]:
    """Exclude patterns for the data dir when a folder being ingested holds it: the index's
    own files (and the app's upload copies) are never ingested as documents."""
    data_dir = index.settings.data_dir.resolve()
    patterns = []
    for given in paths:
        root = given.resolve()
        if given.is_dir() and root in data_dir.parents:
            inside = given / data_dir.relative_to(root)
            patterns.append(glob.escape(inside.as_posix()) + "/*")
    return patterns


def _check_prune(index: Index, space: Space, paths: Sequence[Path]) -> None:
    """Pruning a folder that is missing or empty (moved, renamed, an unmounted drive) would
    remove everything indexed from it: refuse before changing anything."""
    for given in paths:
        if given.exists() and not (given.is_dir() and next(given.iterdir(), None) is None):
            continue
        root = given.resolve()
        indexed = list(index.known(space, [str(root)], under=True).values())
        if not given.exists() or indexed:
            raise _refuse(given, "does not exist" if not given.exists() else "is empty",
                          len(indexed))


@contextlib.contextmanager
def _store_failures(index: Index) -> Iterator[None]:
    """A failure of the stores themselves becomes one line that says what to do."""
    try:
        yield
    except store_errors() as exc:
        raise IndexError_(
            f"could not write the index under {index.settings.data_dir} ({exc}); "
            "files already written stay indexed, run the command again to finish"
        ) from None


def _prune(
    index: Index, space: Space, paths: Sequence[Path], report: IngestReport,
    only: Collection[Path] | None = None,
) -> None:
    """Remove sources whose files no longer exist under the given paths (and `only`)."""
    roots = [p.resolve() for p in paths]
    with guarded_write(index):
        known = index.known(space, None if only is None else [str(p) for p in only], under=True)
        gone = [
            doc.source
            for path, doc in sorted(known.items())
            if any(Path(path) == r or r in Path(path).parents for r in roots)
            and not Path(path).exists()
        ]
        removed = index.remove_sources(space, gone)
    for source in gone:
        report.chunks_deleted += removed[source]
        report.files.append(FileReport(source, "removed", chunks=removed[source]))


# --- the stage ------------------------------------------------------------------------------------
def ingest(
    index: Index,
    paths: Sequence[Path],
    *,
    prune: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: ProgressFn = _noop,
    space: Space | None = None,
    only: Collection[Path] | None = None,
    titles: Mapping[str, str] | None = None,
) -> IngestReport:
    """Add new files, replace changed ones, skip unchanged ones, optionally prune deleted.

    Bad files are reported as skipped with a one-line reason; only a failure of the index
    itself raises (IndexError_), or a prune of a folder that is missing or empty (IngestError).
    `only` limits reading and pruning to the files at or under those absolute paths (see
    `discover`): how a watched folder applies what changed.
    `titles` (by resolved path) overrides the titles files give themselves (benchmark corpora
    carry theirs beside the text). Documents indexed by an older version are upgraded first.
    """
    started = time.perf_counter()
    report = IngestReport()
    space = space or index.active()
    found = discover(paths, include, (*exclude, *own_files(index, paths)), report, only)
    if prune:
        _check_prune(index, space, paths)
    with _store_failures(index):
        upgrade(index, space, progress)
        _run(index, space, found, report, progress, titles)
        if prune:
            _prune(index, space, paths, report, only)
        with guarded_write(index):
            index.drop_orphans(space)
    report.seconds = time.perf_counter() - started
    return report


def _run(
    index: Index,
    space: Space,
    found: list[Found],
    report: IngestReport,
    progress: ProgressFn,
    titles: Mapping[str, str] | None = None,
) -> None:
    """Read files until a batch holds enough chunks, embed it, commit it; repeat."""
    known = index.known(space, [str(item.real) for item in found])
    embed = Embedder(index, space, progress)
    step = index.settings.embed_batch_size * WRITE_BATCHES
    queue = deque((item, 1) for item in found)  # (file, how many times it will have been read)
    batch: list[tuple[Found, DocumentWrite, int]] = []
    size = done = 0
    progress("files", 0, len(found))
    while queue or batch:
        if queue:
            item, reads = queue.popleft()
            if reads > 1:  # read again: what the records say now, not at the start
                known.pop(str(item.real), None)
                known.update(index.known(space, [str(item.real)]))
            write = read(index, item, known.get(str(item.real)), report, titles)
            if reads == 1:
                done += 1
                progress("files", done, len(found))
            if write is not None:
                batch.append((item, write, reads))
                size += len(write.chunks or [])
        if batch and (size >= step or not queue):
            embed([write for _, write, _ in batch])
            again = _commit(index, space, [(item, write) for item, write, _ in batch], report)
            for item, _, reads in batch:
                if item not in again:
                    continue
                if reads >= REREADS:
                    reason = "it kept changing while it was being read; ingest it again"
                    report.files.append(FileReport(item.name, "skipped", reason=reason))
                else:
                    queue.append((item, reads + 1))
            batch, size = [], 0


def reindex_all(
    index: Index,
    *,
    prune: bool = False,
    progress: ProgressFn = _noop,
    space: Space | None = None,
) -> IngestReport:
    """Read every indexed source again from the file it was indexed from (works from any
    directory); with `prune`, sources whose files are gone are removed, unless the folder they
    came from is missing or empty altogether (then nothing is pruned: IngestError)."""
    started = time.perf_counter()
    report = IngestReport()
    known = index.known()
    space = space or index.active()
    found, missing = [], []
    for doc in sorted(known.values(), key=lambda d: d.source):
        real, root = Path(doc.path), Path(doc.root or doc.path)
        if real.exists():
            found.append(Found(real, real, root, doc.source))
        else:
            missing.append(doc)
    if prune:
        _check_roots_of(missing)
    with _store_failures(index):
        upgrade(index, space, progress)
        _run(index, space, found, report, progress)
        with guarded_write(index):
            removed = index.remove_sources(space, [d.source for d in missing]) if prune else {}
            index.drop_orphans(space)
    for doc in missing:
        if prune:
            report.chunks_deleted += removed[doc.source]
            report.files.append(FileReport(doc.source, "removed", chunks=removed[doc.source]))
        else:
            report.files.append(FileReport(doc.source, "skipped", reason="not found"))
    report.seconds = time.perf_counter() - started
    return report


def _check_roots_of(missing: Sequence[KnownDocument]) -> None:
    """`reindex_all`'s version of `_check_prune`: the recorded folders of the missing files."""
    for root in {Path(doc.root) for doc in missing if doc.root and doc.root != doc.path}:
        if not root.is_dir() or next(root.iterdir(), None) is None:
            count = sum(Path(doc.root) == root for doc in missing)
            raise _refuse(root, "is empty" if root.is_dir() else "does not exist", count)


def rebuild(
    index: Index,
    paths: Sequence[Path] | None,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: ProgressFn = _noop,
) -> IngestReport:
    """Build a new copy of the index beside the active one from `paths` (None: every indexed
    source), and switch to it only when it is complete. Readers keep using the old copy
    meanwhile; other writers wait (the lock is held throughout). If the rebuild dies, the old
    copy stays active and the half-built one is dropped by the next writer or reader."""
    with guarded_write(index, repair_first=False):
        space = index.begin_rebuild()
        if paths is None:
            report = reindex_all(index, progress=progress, space=space)
        else:
            report = ingest(
                index, paths, include=include, exclude=exclude, progress=progress, space=space
            )
        index.finish_rebuild(space)
    return report
