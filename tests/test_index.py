"""The store: records, chunks, keyword index and vectors in exact agreement; typed source records;
name resolution; removal; the embedding-model guard; indexes written by the previous version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from index_state import CountingEmbeddings, state

from chatbot import records
from chatbot.config import Settings
from chatbot.fakes import HashingEmbeddings
from chatbot.index import (
    DocumentWrite,
    EmbeddingMismatchError,
    Index,
    IndexError_,
    UnknownSourceError,
    chunk_id,
    drop_index,
)
from chatbot.keyword import bm25_tokens
from chatbot.locking import write_lock
from chatbot.models import Chunk, SourceRecord, indexed_text
from chatbot.pipeline import Pipeline


def check_consistent(index: Index) -> dict[str, set[str]]:
    """Records == vectors == keyword rows; every chunk is exactly its span of the stored
    document and has the id of its file, span and context line; the keyword statistics equal a
    recount of what was indexed (context line and text). Returns chunk ids by source."""
    got = state(index)
    assert got["vectors"] == got["ids"] and got["duplicate_ids"] == 0
    by_source: dict[str, set[str]] = {}
    paths = {r.source: r.path for r in index.sources()}
    with index.connection() as db:
        rows = records.chunk_rows(db, index.active().physical, got["ids"])
    for chunk in index.chunks(list(paths)):
        document = index.document_text(chunk.source)
        assert document is not None and chunk.text == document[chunk.start : chunk.end]
        embedded = bool(rows[chunk.chunk_id].embed_context)
        span = Chunk(chunk.source, chunk.text, chunk.start, chunk.end, 0, context=chunk.context,
                     embed_context=embedded)
        assert chunk.chunk_id == chunk_id(paths[chunk.source], span)
        by_source.setdefault(chunk.source, set()).add(chunk.chunk_id)
    assert got["sources"] == [(s, len(ids)) for s, ids in sorted(by_source.items())]
    texts = [indexed_text(c.context, c.text) for c in index.chunks(list(paths))]
    with index.snapshot() as snap:
        terms = {t for text in texts for t in bm25_tokens(text)}
        stats = snap.term_stats(sorted(terms))
        assert snap.count() == len(texts) == index.count()
    assert dict(stats.df) == {
        t: sum(t in set(bm25_tokens(text)) for text in texts) for t in terms
    }
    assert stats.avgdl == pytest.approx(sum(len(bm25_tokens(t)) for t in texts) / len(texts))
    return by_source


@pytest.fixture
def two_folders(tmp_path: Path) -> Path:
    for folder, names in {"docs": ["notes.txt", "sub/deep.txt"], "other": ["notes.txt"]}.items():
        for name in names:
            path = tmp_path / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"The {folder} copy of {name} talks about tram tickets.\n")
    return tmp_path


def test_sources_are_typed_records_and_names_resolve_from_anywhere(
    fake_settings: Settings, two_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = Pipeline.build(fake_settings)
    pipeline.index.ingest([Path("docs"), Path("other")])
    check_consistent(pipeline.index)
    [first, *_] = pipeline.index.sources()
    assert isinstance(first, SourceRecord)
    assert (first.source, first.path, first.root) == (
        "docs/notes.txt", str(two_folders / "docs" / "notes.txt"), str(two_folders / "docs")
    )
    assert set(first.to_json()) == {"source", "chunks", "characters", "indexed_at"}

    monkeypatch.chdir(two_folders / "docs" / "sub")
    index = pipeline.index
    assert index.resolve_sources(["docs/sub/deep.txt"]) == ["docs/sub/deep.txt"]  # a name
    assert index.resolve_sources(["deep.txt"]) == ["docs/sub/deep.txt"]  # a path from here
    assert index.resolve_sources([".."]) == ["docs/notes.txt", "docs/sub/deep.txt"]  # a folder
    assert index.resolve_sources(["other/"]) == ["other/notes.txt"]  # a name prefix
    with pytest.raises(UnknownSourceError, match="no indexed source 'nothing'"):
        index.resolve_sources(["nothing"])


def test_remove_by_name_or_path(
    fake_settings: Settings, two_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = Pipeline.build(fake_settings).index
    index.ingest([Path("docs"), Path("other")])
    assert index.remove("other/notes.txt") == 1
    monkeypatch.chdir(two_folders / "docs")
    assert index.remove("notes.txt") == 1  # the file, from where it is
    assert [r.source for r in index.sources()] == ["docs/sub/deep.txt"]
    check_consistent(index)
    with pytest.raises(UnknownSourceError, match=r"indexed: docs/sub/deep\.txt"):
        index.remove("notes.txt")


def test_a_name_taken_by_another_file_gets_more_of_its_path(
    fake_settings: Settings, two_folders: Path
) -> None:
    index = Pipeline.build(fake_settings).index
    index.ingest([Path("docs/notes.txt")])
    report = index.ingest([Path("other/notes.txt")])
    assert [f.source for f in report.files] == ["other/notes.txt"]
    (two_folders / "x" / "docs").mkdir(parents=True)
    (two_folders / "x" / "docs" / "notes.txt").write_text("A third notes file about ferries.")
    report = index.ingest([Path("x/docs")])
    assert [f.source for f in report.files] == ["x/docs/notes.txt"]
    assert [r.source for r in index.sources()] == [
        "docs/notes.txt", "other/notes.txt", "x/docs/notes.txt"
    ]


def test_unusable_data_dir_is_a_clear_error(fake_settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(IndexError_) as caught:
        Index(fake_settings.with_overrides(data_dir=blocker), HashingEmbeddings())
    assert "not-a-dir" in str(caught.value)


def test_other_embedding_model_is_refused_until_rebuilt(
    fake_settings: Settings, seed_dir: Path
) -> None:
    Index(fake_settings, HashingEmbeddings()).ingest([Path("seeds")])
    other = fake_settings.with_overrides(embedding_model="fake-hashing-512")
    with pytest.raises(EmbeddingMismatchError) as caught:
        Index(other, HashingEmbeddings(512))
    message = str(caught.value)
    assert "fake-hashing-256" in message and "fake-hashing-512" in message
    assert "--rebuild" in message
    drop_index(other)
    rebuilt = Index(other, HashingEmbeddings(512))
    assert rebuilt.count() == 0 and rebuilt.sources() == []
    assert rebuilt.ingest([Path("seeds")]).count("added") == 1
    check_consistent(rebuilt)


def _old_index(data_dir: Path, seed_dir: Path) -> None:
    """What the previous version wrote: chunk texts and offsets only in Chroma, document rows
    in an `index.db` without the tables of this one."""
    text = (seed_dir / "xi-kazakhstan-visit.txt").read_text(encoding="utf-8")
    spans = [(0, 300), (300, 700)]
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "chatbot", metadata={"embedding_model": "fake-hashing-256"},
        configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
    )
    pieces = [text[a:b] for a, b in spans]
    collection.upsert(
        ids=["old-1", "old-2"],
        embeddings=HashingEmbeddings().embed_documents(pieces),
        documents=pieces,
        metadatas=[
            {"source": "seeds/xi.txt", "start": a, "end": b, "chunk_index": n}
            for n, (a, b) in enumerate(spans)
        ],
    )
    with sqlite3.connect(data_dir / "index.db") as db:
        db.execute(
            "CREATE TABLE documents (collection TEXT NOT NULL, source TEXT NOT NULL, "
            "path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, "
            "sha256 TEXT NOT NULL, text TEXT NOT NULL, chunks INTEGER NOT NULL, "
            "page_starts TEXT NOT NULL DEFAULT '', indexed_at REAL NOT NULL, "
            "PRIMARY KEY (collection, source))"
        )
        db.execute("CREATE TABLE generations (collection TEXT PRIMARY KEY, value INTEGER)")
        db.execute(
            "INSERT INTO documents VALUES ('chatbot', 'seeds/xi.txt', ?, 1, 1, 'x', ?, 2, '', 0)",
            (str(seed_dir / "xi-kazakhstan-visit.txt"), text),
        )


def test_an_index_of_the_previous_version_is_taken_over(
    fake_settings: Settings, seed_dir: Path
) -> None:
    fake_settings.data_dir.mkdir()
    _old_index(fake_settings.data_dir, seed_dir)
    pipeline = Pipeline.build(fake_settings)
    assert [(r.source, r.chunks) for r in pipeline.index.sources()] == [("seeds/xi.txt", 2)]
    assert pipeline.index.count() == 2
    for mode in ("dense", "bm25", "hybrid"):
        [top] = pipeline.retriever.retrieve("Xi Kazakhstan", 1, mode)
        assert top.chunk_id in {"old-1", "old-2"} and top.source == "seeds/xi.txt"
    # The first ingest upgrades the old chunks from the stored text (records of version 2
    # have no context lines), keeping the document's old recipe; the file, found again under
    # its old name, is then read and split again by the current splitter (its stored text came
    # from an older loader), under its old name.
    report = pipeline.index.ingest([Path("seeds")])
    assert [(f.source, f.status) for f in report.files] == [("seeds/xi.txt", "updated")]
    again = pipeline.index.ingest([Path("seeds")])
    assert [(f.source, f.status) for f in again.files] == [("seeds/xi.txt", "unchanged")]
    assert {c.chunk_id for c in pipeline.index.chunks(["seeds/xi.txt"])}.isdisjoint(
        {"old-1", "old-2"}
    )
    check_consistent(pipeline.index)
    with sqlite3.connect(fake_settings.data_dir / "index.db") as db:
        assert db.execute(
            "SELECT value FROM meta WHERE key = 'schema'"
        ).fetchone()[0] == records.SCHEMA_VERSION


def test_a_commit_checks_the_records_as_they_are_now(
    fake_settings: Settings, seed_dir: Path
) -> None:
    """A file read as "same text as indexed" while another writer changed its record is sent
    back to be read again, not marked unchanged."""
    index = Index(fake_settings, HashingEmbeddings())
    index.ingest([Path("seeds")])
    [known] = index.known().values()
    stale = DocumentWrite(known.path, known.root, known.source, (1, 2), "an older text",
                          known.recipe)
    with write_lock(fake_settings):
        [result] = index.commit(index.active(), [stale])
    assert result.status == "changed"
    assert index.known()[known.path] == known  # untouched
    same = DocumentWrite(known.path, known.root, known.source, (1, 2), known.fingerprint,
                         known.recipe)
    with write_lock(fake_settings):
        [result] = index.commit(index.active(), [same])
    assert result.status == "unchanged"
    assert (index.known()[known.path].size, index.known()[known.path].mtime_ns) == (1, 2)


def test_commit_results_follow_the_order_of_the_writes(
    fake_settings: Settings, seed_dir: Path, tmp_path: Path
) -> None:
    """Callers pair results with writes by position: a new file written before an unchanged
    and a stale one gets its own result, not theirs."""
    from chatbot.ingest import recipe
    from chatbot.models import Chunk

    index = Index(fake_settings, HashingEmbeddings())
    index.ingest([Path("seeds")])
    [known] = index.known().values()
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("A new file about tides.", encoding="utf-8")
    new = DocumentWrite(str(fresh), str(tmp_path), "tmp/fresh.txt", (23, 1), "fresh-print",
                        recipe(index), "A new file about tides.")
    new.chunks = [Chunk("tmp/fresh.txt", "A new file about tides.", 0, 23, 0)]
    same = DocumentWrite(known.path, known.root, known.source, (1, 2), known.fingerprint,
                         known.recipe)
    stale = DocumentWrite(known.path, known.root, known.source, (1, 2), "an older text",
                          known.recipe)
    with write_lock(fake_settings):
        results = index.commit(index.active(), [new, same, stale])
    assert [(r.source, r.status) for r in results] == [
        ("tmp/fresh.txt", "added"), (known.source, "unchanged"), (known.source, "changed")
    ]
    check_consistent(index)


def test_known_under_a_path_takes_it_and_what_is_below_it_only(
    fake_settings: Settings, tmp_path: Path
) -> None:
    """The prefix lookup a watched folder uses: `dir` selects `dir/...`, not `dir0.txt`,
    `dir-2/...` or `dir.txt` (neighbours in the path index's order)."""
    docs = tmp_path / "docs"
    for name in ("dir/x.txt", "dir/deep/y.txt", "dir0.txt", "dir-2/z.txt", "dir.txt", "a.txt"):
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(f"The file {name} has words of its own.\n")
    index = Index(fake_settings, HashingEmbeddings())
    index.ingest([docs])
    root = docs.resolve()

    def under(*names: str) -> list[str]:
        found = index.known(None, [str(root / n) for n in names], under=True)
        return sorted(Path(path).relative_to(root).as_posix() for path in found)

    assert under("dir") == ["dir/deep/y.txt", "dir/x.txt"]
    assert under("dir/x.txt", "dir.txt", "gone") == ["dir.txt", "dir/x.txt"]
    assert under("") == sorted(Path(p).relative_to(root).as_posix() for p in index.known())
    assert under() == []


# --- titles and headings in the index (chatbot/headings.py, chatbot/upgrade.py) ----------------
HANDBOOK = (
    "# Zanzibar Handbook\n\n## Ferries\n\n"
    + " ".join(f"Boat {n} leaves the harbour at {n} o'clock and carries cargo." for n in range(12))
    + "\n\n## Markets\n\nThe spice market opens at dawn. Cloves are sold by weight."
)


def _handbook(tmp_path: Path) -> Path:
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "handbook.md").write_text(HANDBOOK, encoding="utf-8")
    return tmp_path / "guide"


@pytest.mark.parametrize("mode", ["keyword", "on"])
def test_keyword_search_finds_a_chunk_by_a_word_only_in_its_headings(
    fake_settings: Settings, tmp_path: Path, mode: str
) -> None:
    _handbook(tmp_path)
    settings = fake_settings.with_overrides(chunk_size=200, chunk_overlap=0, headings_in_index=mode)
    pipeline = Pipeline.build(settings)
    pipeline.index.ingest([Path("guide")])
    check_consistent(pipeline.index)
    hits = pipeline.retriever.retrieve("zanzibar ferries", k=10, mode="bm25")
    later = [p for p in hits if "Zanzibar" not in p.text and "Ferries" not in p.text]
    boats = [p for p in later if p.text.startswith("Boat")]
    assert boats, "a chunk that never says 'Zanzibar' or 'Ferries' is found by its headings"
    for passage in boats:
        assert passage.context == "Zanzibar Handbook > Ferries"
        # What is cited is the chunk's own span of the document, without the context line.
        assert passage.text == HANDBOOK[passage.start : passage.end]
    [market] = [p for p in pipeline.index.chunks(["guide/handbook.md"]) if "spice" in p.text]
    assert market.context == "Zanzibar Handbook" and market.text.startswith("## Markets")
    # The vector is of the text alone (keyword), or of the context line and the text (on).
    embedded = indexed_text(market.context, market.text) if mode == "on" else market.text
    with pipeline.index.snapshot() as snap:
        cosine = snap.cosines(pipeline.embeddings.embed_query(embedded), [market.chunk_id])
    assert cosine[market.chunk_id] == pytest.approx(1.0)
    # With the setting off, the same words find only the chunk that says them.
    off = fake_settings.with_overrides(
        chunk_size=200, chunk_overlap=0, headings_in_index="off", collection="plain"
    )
    plain = Pipeline.build(off)
    plain.index.ingest([Path("guide")])
    hits_off = plain.retriever.retrieve("zanzibar", k=10, mode="bm25")
    assert [p.text.startswith("# Zanzibar Handbook") for p in hits_off] == [True]
    assert {(p.text, p.start, p.end) for p in plain.index.chunks(["guide/handbook.md"])} == {
        (p.text, p.start, p.end) for p in pipeline.index.chunks(["guide/handbook.md"])
    }


def test_an_index_without_context_lines_is_upgraded_from_its_stored_text(
    fake_settings: Settings, tmp_path: Path
) -> None:
    """Written with titles and headings off (as version 2 did), the index is upgraded by the
    next ingest, from the text it stores (its file is gone by then): same documents, same
    chunk spans, every chunk once, with context lines, vectors and keyword entries."""
    guide = _handbook(tmp_path)
    old = fake_settings.with_overrides(chunk_size=200, chunk_overlap=0, headings_in_index="off")
    Pipeline.build(old).index.ingest([Path("guide")])
    before = Index(old, HashingEmbeddings())
    spans = {(c.text, c.start, c.end) for c in before.chunks(["guide/handbook.md"])}
    assert {c.context for c in before.chunks(["guide/handbook.md"])} == {""}
    (guide / "handbook.md").unlink()
    (tmp_path / "more.txt").write_text("Tide tables are printed weekly.", encoding="utf-8")
    new = old.with_overrides(headings_in_index="on")
    index = Index(new, HashingEmbeddings())
    report = index.ingest([Path("more.txt")])
    assert [f.status for f in report.files] == ["added"]
    check_consistent(index)
    chunks = index.chunks(["guide/handbook.md"])
    assert {(c.text, c.start, c.end) for c in chunks} == spans
    assert "Zanzibar Handbook > Ferries" in {c.context for c in chunks}
    assert state(index)["duplicate_spans"] == 0
    with index.snapshot() as snap:
        [(top, _)] = snap.keyword(bm25_tokens("ferries"), 1)
    assert top.context == "Zanzibar Handbook > Ferries" and "Ferries" not in top.text
    # Nothing is left to upgrade; turning the setting off again goes back the same way.
    from chatbot.upgrade import outdated, upgrade

    assert outdated(index, index.active()) == []
    back = Index(old, HashingEmbeddings())
    assert upgrade(back, back.active(), lambda *_: None) == 2
    check_consistent(back)
    assert {c.context for c in back.chunks(["guide/handbook.md"])} == {""}


def test_an_upgrade_never_undoes_a_newer_version(fake_settings: Settings, tmp_path: Path) -> None:
    """A document another writer replaced after the upgrade read it keeps the newer version."""
    _handbook(tmp_path)
    old = fake_settings.with_overrides(headings_in_index="off")
    index = Index(old, HashingEmbeddings())
    index.ingest([Path("guide")])
    from chatbot.upgrade import _writes

    new = Index(old.with_overrides(headings_in_index="on"), HashingEmbeddings())
    [stale] = list(_writes(new, new.active(), ["guide/handbook.md"]))
    (tmp_path / "guide" / "handbook.md").write_text("# Zanzibar\n\nRewritten.", encoding="utf-8")
    new.ingest([Path("guide")])
    with write_lock(new.settings):
        [result] = new.commit(new.active(), [stale])
    assert result.status == "changed"
    assert new.document_text("guide/handbook.md") == "# Zanzibar\n\nRewritten."
    check_consistent(new)


def test_switching_between_keyword_and_on_re_embeds_exactly_what_changed(
    fake_settings: Settings, tmp_path: Path
) -> None:
    """keyword -> on embeds the chunks with a context line again (with it), on -> keyword
    embeds them from the text alone; chunks without a context line keep their vectors."""
    _handbook(tmp_path)
    small = fake_settings.with_overrides(chunk_size=200, chunk_overlap=0)
    embeddings = CountingEmbeddings()
    index = Index(small.with_overrides(headings_in_index="keyword"), embeddings)
    index.ingest([Path("guide")])
    chunks = index.chunks(["guide/handbook.md"])
    with_line = [c for c in chunks if c.context]
    assert with_line and len(with_line) < len(chunks)
    for mode, expected in (("on", True), ("keyword", False)):
        embeddings.embedded.clear()
        switched = Index(small.with_overrides(headings_in_index=mode), embeddings)
        assert switched.ingest([Path("guide")]).count("unchanged") == 1
        wanted = {indexed_text(c.context, c.text) if expected else c.text for c in with_line}
        assert sorted(embeddings.embedded) == sorted(wanted)
        check_consistent(switched)
        with switched.snapshot() as snap:
            for chunk in switched.chunks(["guide/handbook.md"]):
                text = indexed_text(chunk.context, chunk.text) if expected else chunk.text
                vector = embeddings.embed_query(text)
                assert snap.cosines(vector, [chunk.chunk_id])[chunk.chunk_id] == pytest.approx(1)


def test_an_upgrade_splits_a_stored_table_as_its_file_was_split(
    fake_settings: Settings, tmp_path: Path
) -> None:
    """An upgrade re-splits stored text; the table spans are stored with it, so table rows stay
    whole and apart from the prose, exactly as a fresh ingest of the file splits them."""
    from chatbot.upgrade import upgrade

    rows = "".join(f"<tr><td>Station {n}</td><td>{n * 7}</td></tr>" for n in range(30))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rain.html").write_text(
        "<html><head><title>Rain</title></head><body><h1>Rain</h1><p>Rainfall by station, "
        "measured every day of the year.</p><table><tr><th>Station</th><th>Rainfall (mm)</th>"
        f"</tr>{rows}</table><p>Dry stations are listed first.</p></body></html>",
        encoding="utf-8",
    )
    off = fake_settings.with_overrides(chunk_size=160, chunk_overlap=0, headings_in_index="off")
    Index(off, HashingEmbeddings()).ingest([tmp_path / "docs"])
    on = off.with_overrides(headings_in_index="keyword")
    upgraded = Index(on, HashingEmbeddings())
    assert upgrade(upgraded, upgraded.active(), lambda *_: None) == 1
    fresh = Index(on.with_overrides(collection="fresh"), HashingEmbeddings())
    fresh.ingest([tmp_path / "docs"])

    def spans(index: Index) -> list[tuple[int, int, str]]:
        return sorted((c.start, c.end, c.text) for c in index.chunks(["docs/rain.html"]))

    assert spans(upgraded) == spans(fresh)
    table_chunks = [text for _, _, text in spans(fresh) if "Rainfall (mm):" in text]
    assert table_chunks and all("measured every day" not in t for t in table_chunks)
    check_consistent(upgraded)
