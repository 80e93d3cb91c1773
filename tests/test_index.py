"""Index: ingest a folder of every format plus bad files, re-ingest incrementally, prune, remove,
and keep Chroma, the record manager and BM25 in exact agreement throughout."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from langchain_core.documents import Document
from pypdf import PdfWriter

from chatbot import cli
from chatbot.config import Settings
from chatbot.fakes import HashingEmbeddings
from chatbot.index import EmbeddingMismatchError, Index, IndexError_, chunk_id, drop_index
from chatbot.pipeline import Pipeline
from chatbot.retrieve import Retriever

DATA = Path(__file__).resolve().parent / "data" / "ingest"

GOOD = {
    "notes.txt": "The zeppelin hangar at Moffett Field housed the airship Macon. "
    "Its doors weighed almost two hundred tons each.\n\nVisitors can tour the hangar today.",
    "guide.md": "# Tram guide\n\nThe tram depot closes at midnight on weekdays.\n\n"
    "## Tickets\n\nA day ticket costs four euros and covers every line.",
    "sub/page.html": "<html><head><script>var x = 'SCRIPTTEXT';</script></head><body>"
    "<nav><a href='/'>NAVTEXT home</a></nav><article><h1>Glacier walks</h1>"
    "<p>Guided glacier walks leave from the valley station every morning at nine.</p>"
    "<p>Crampons and helmets are handed out at the ticket office before the walk.</p>"
    "</article><footer>FOOTERTEXT contact us</footer></body></html>",
}


class CountingEmbeddings(HashingEmbeddings):
    """The fake embeddings, remembering every text they were asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return super().embed_documents(texts)


def _bad_files(folder: Path) -> dict[str, str]:
    """Write one file of each bad kind; returns name -> expected words of the skip reason."""
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blob.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "latin1.txt").write_bytes("Crème brûlée au café.".encode("latin-1"))
    pdf = (DATA / "report.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(pdf[: len(pdf) // 3])
    docx = (DATA / "memo.docx").read_bytes()
    (folder / "broken.docx").write_bytes(docx[: len(docx) // 2])
    writer = PdfWriter(clone_from=DATA / "report.pdf")
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    writer.write(folder / "locked.pdf")
    (folder / "huge.txt").write_text("Enormous file. " * 20_000)  # ~300 kB > 0.2 MiB limit
    return {
        "empty.txt": "empty file",
        "blob.txt": "binary",
        "latin1.txt": "UTF-8",
        "truncated.pdf": "corrupt or unreadable PDF",
        "broken.docx": "not a readable .docx",
        "locked.pdf": "password protected",
        "huge.txt": "too large",
    }


@pytest.fixture
def settings(fake_settings: Settings) -> Settings:
    return fake_settings.with_overrides(max_file_mb=0.2, chunk_size=200, chunk_overlap=40)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """docs/ in the working directory with good files of every format."""
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    for name, text in GOOD.items():
        (docs / name).write_text(text, encoding="utf-8")
    shutil.copy(DATA / "report.pdf", docs / "sub" / "report.pdf")
    shutil.copy(DATA / "memo.docx", docs / "memo.docx")
    return docs


def _check_consistent(index: Index, retriever: Retriever) -> dict[str, set[str]]:
    """Chroma ids == record manager keys == BM25's documents, per source and in total;
    every chunk's text is exactly its span of the stored document. Returns ids by source."""
    got = index.store.get(include=["documents", "metadatas"])
    by_source: dict[str, set[str]] = {}
    for chunk, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
        by_source.setdefault(meta["source"], set()).add(chunk)
        document = index.document_text(meta["source"])
        assert document is not None
        assert text == document[meta["start"] : meta["end"]]
        assert chunk == chunk_id(Document(page_content=text, metadata=meta))
    assert set(got["ids"]) == set(index.records.list_keys())
    for source, ids in by_source.items():
        assert set(index.records.list_keys(group_ids=[source])) == ids
    assert {str(d.id) for d in retriever._bm25().docs} == set(got["ids"])
    rows = {row["source"]: row["chunks"] for row in index.sources()}
    assert rows == {source: len(ids) for source, ids in by_source.items()}
    return by_source


def test_ingest_folder_then_update_prune_and_remove(settings: Settings, folder: Path) -> None:
    expected_reasons = _bad_files(folder)
    embeddings = CountingEmbeddings()
    index = Index(settings, embeddings)
    retriever = Retriever(index)

    report = index.ingest([Path("docs")])

    status = {f.source.removeprefix("docs/"): f.status for f in report.files}
    good = ["guide.md", "memo.docx", "notes.txt", "sub/page.html", "sub/report.pdf"]
    assert sorted(name for name, s in status.items() if s == "added") == good
    for name, words in expected_reasons.items():
        [item] = [f for f in report.files if f.source == f"docs/{name}"]
        assert item.status == "skipped"
        assert words in item.reason
        assert "\n" not in item.reason
    assert report.count("skipped") == len(expected_reasons)
    assert report.chunks_written == index.count() == sum(f.chunks for f in report.files)
    assert "5 added, 0 updated, 0 unchanged, 0 removed, 7 skipped" in report.summary()
    by_source = _check_consistent(index, retriever)
    assert len(by_source) == 5

    # Formats: main HTML text only, PDF pages numbered, headings kept with their sections.
    html = index.document_text("docs/sub/page.html") or ""
    assert "Guided glacier walks" in html
    assert not any(noise in html for noise in ("SCRIPTTEXT", "NAVTEXT", "FOOTERTEXT"))
    pages = {
        d.metadata["page"]: d.page_content
        for d in index.all_chunks()
        if d.metadata["source"] == "docs/sub/report.pdf"
    }
    assert sorted(pages) == [1, 2, 3]
    assert "submarine cable" in pages[2]
    assert all("ACME Quarterly Report" not in text for text in pages.values())

    # A second run writes and embeds nothing.
    generation = index.generation()
    embedded = len(embeddings.embedded)
    again = index.ingest([Path("docs")])
    assert again.chunks_written == again.chunks_deleted == 0
    assert again.count("unchanged") == 5
    assert again.count("skipped") == len(expected_reasons)
    assert index.generation() == generation
    assert len(embeddings.embedded) == embedded

    # Modify one file, delete another, re-ingest with prune.
    notes_before = by_source["docs/notes.txt"]
    (folder / "notes.txt").write_text(
        "The bakery on Elm Street sells rye bread every Tuesday.", encoding="utf-8"
    )
    (folder / "guide.md").unlink()
    third = index.ingest([Path("docs")], prune=True)
    status = {f.source: f.status for f in third.files}
    assert status["docs/notes.txt"] == "updated"
    assert status["docs/guide.md"] == "removed"
    assert third.count("unchanged") == 3
    after = _check_consistent(index, retriever)
    assert "docs/guide.md" not in after
    assert not after["docs/notes.txt"] & notes_before  # old chunks gone, exactly replaced
    assert len(after["docs/notes.txt"]) == 1
    assert {s: ids for s, ids in after.items() if s != "docs/notes.txt"} == {
        s: ids for s, ids in by_source.items() if s not in ("docs/notes.txt", "docs/guide.md")
    }
    for mode in ("dense", "bm25"):
        for question in ("zeppelin hangar airship Macon", "tram depot midnight day ticket"):
            for passage in retriever.retrieve(question, k=10, mode=mode):
                assert "zeppelin" not in passage.text
                assert "tram" not in passage.text.lower()
        [top, *_] = retriever.retrieve("bakery rye bread Elm Street", k=3, mode=mode)
        assert top.source == "docs/notes.txt"
        assert top.text == "The bakery on Elm Street sells rye bread every Tuesday."

    # Remove one source by name.
    assert index.remove("docs/memo.docx") == len(after["docs/memo.docx"])
    final = _check_consistent(index, retriever)
    assert "docs/memo.docx" not in final
    assert not retriever.retrieve("quince harvest orchard", k=5, mode="bm25")
    with pytest.raises(KeyError):
        index.remove("docs/memo.docx")


def test_prune_only_touches_the_ingested_paths(settings: Settings, folder: Path) -> None:
    other = folder.parent / "other"
    other.mkdir()
    (other / "kept.txt").write_text("The ferry to the island leaves hourly.")
    index = Index(settings, HashingEmbeddings())
    index.ingest([Path("docs"), Path("other")])
    (other / "kept.txt").unlink()
    (folder / "notes.txt").unlink()
    report = index.ingest([Path("docs")], prune=True)
    assert [f.source for f in report.files if f.status == "removed"] == ["docs/notes.txt"]
    assert "other/kept.txt" in {row["source"] for row in index.sources()}


def test_an_edit_embeds_only_new_text(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    sections = [
        f"## Pier {n}\n\nLantern {n} hangs on the pier. It was lit in year {1900 + n}."
        for n in range(8)
    ]
    path.write_text("\n\n".join(sections))
    embeddings = CountingEmbeddings()
    index = Index(settings, embeddings)
    index.ingest([path])
    before = set(index.store.get(include=[])["ids"])
    embeddings.embedded.clear()
    # A new first section shifts every offset, so every chunk id changes...
    path.write_text("## Harbour\n\nThe harbour master rings a bell.\n\n" + "\n\n".join(sections))
    report = index.ingest([path])
    assert report.count("updated") == 1
    assert not before & set(index.store.get(include=[])["ids"])
    # ...yet only the text that is new is embedded; the rest reuses stored vectors.
    assert embeddings.embedded == ["## Harbour\n\nThe harbour master rings a bell."]
    _check_consistent(index, Retriever(index))
    [top] = Retriever(index).retrieve("lantern pier year 1903", k=1, mode="dense")
    assert "Lantern 3" in top.text


def test_touched_file_with_same_text_is_unchanged(settings: Settings, folder: Path) -> None:
    index = Index(settings, CountingEmbeddings())
    index.ingest([Path("docs")])
    generation = index.generation()
    notes = folder / "notes.txt"
    stat = notes.stat()
    os.utime(notes, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    report = index.ingest([Path("docs")])
    assert report.count("unchanged") == 5 and report.chunks_written == 0
    assert index.generation() == generation
    # The new mtime is remembered, so the next run does not even read the file.
    assert index._known()["docs/notes.txt"].mtime_ns == notes.stat().st_mtime_ns


def test_unusable_data_dir_is_a_clear_error(fake_settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(IndexError_) as caught:
        Index(fake_settings.with_overrides(data_dir=blocker), HashingEmbeddings())
    assert "not-a-dir" in str(caught.value)


def test_changed_chunk_settings_rechunk_unchanged_files(settings: Settings, folder: Path) -> None:
    Index(settings, HashingEmbeddings()).ingest([Path("docs")])
    os.utime(folder / "notes.txt")  # touched, same text
    bigger = settings.with_overrides(chunk_size=1000, chunk_overlap=0)
    index = Index(bigger, HashingEmbeddings())
    report = index.ingest([Path("docs")])
    assert report.count("updated") == 5
    assert index.sources()[0]["chunks"] >= 1
    _check_consistent(index, Retriever(index))


def test_same_file_from_another_working_directory_is_not_duplicated(
    settings: Settings, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = Index(settings, HashingEmbeddings())
    index.ingest([Path("docs/notes.txt")])
    monkeypatch.chdir(folder)
    report = index.ingest([Path("notes.txt")])
    assert [(f.source, f.status) for f in report.files] == [("notes.txt", "updated")]
    assert [row["source"] for row in index.sources()] == ["notes.txt"]
    _check_consistent(index, Retriever(index))


def test_progress_is_reported_per_file_and_per_embedding_batch(
    settings: Settings, folder: Path
) -> None:
    calls: list[tuple[str, int, int]] = []
    index = Index(settings.with_overrides(embed_batch_size=2), HashingEmbeddings())
    index.ingest([Path("docs")], progress=lambda *call: calls.append(call))
    files = [c for c in calls if c[0] == "files"]
    embeds = [c for c in calls if c[0] == "embed"]
    assert [done for _, done, _ in files] == list(range(6))
    total = index.count()
    assert embeds[-1] == ("embed", total, total)
    assert len(embeds) >= total // 2 + 1
    assert [done for _, done, _ in embeds] == sorted(done for _, done, _ in embeds)


def test_other_embedding_model_is_refused_until_rebuilt(settings: Settings, folder: Path) -> None:
    Index(settings, HashingEmbeddings()).ingest([Path("docs")])
    other = settings.with_overrides(embedding_model="fake-hashing-512")
    with pytest.raises(EmbeddingMismatchError) as caught:
        Index(other, HashingEmbeddings(512))
    message = str(caught.value)
    assert "fake-hashing-256" in message and "fake-hashing-512" in message
    assert "--rebuild" in message
    drop_index(other)
    rebuilt = Index(other, HashingEmbeddings(512))
    assert rebuilt.count() == 0 and rebuilt.sources() == []
    assert rebuilt.ingest([Path("docs")]).count("added") == 5


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_ingest_sources_remove(
    fake_settings: Settings,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "CHATBOT_LLM_PROVIDER": "fake",
        "CHATBOT_EMBEDDINGS_PROVIDER": "fake",
        "CHATBOT_DATA_DIR": str(fake_settings.data_dir),
        "CHATBOT_MAX_FILE_MB": "0.2",
    }.items():
        monkeypatch.setenv(name, value)
    reasons = _bad_files(folder)

    code, _, err = _run(capsys, "ingest", "docs")
    assert code == 0
    assert "Traceback" not in err
    assert "5 added, 0 updated, 0 unchanged, 0 removed, 7 skipped" in err
    for name, words in reasons.items():
        [line] = [ln for ln in err.splitlines() if ln.startswith(f"skipped docs/{name}:")]
        assert words in line

    code, out, _ = _run(capsys, "sources", "--json")
    rows = json.loads(out)
    assert code == 0
    names = ["guide.md", "memo.docx", "notes.txt", "sub/page.html", "sub/report.pdf"]
    assert [r["source"] for r in rows] == [f"docs/{n}" for n in names]
    assert all(set(r) == {"source", "chunks", "characters", "indexed_at"} for r in rows)

    (folder / "notes.txt").unlink()
    code, out, err = _run(capsys, "ingest", "docs", "--prune", "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["removed"], report["unchanged"], report["chunks_written"]) == (1, 4, 0)

    code, _, err = _run(capsys, "remove", "docs/guide.md", "docs/nothing.txt")
    assert code == 1
    assert "removed docs/guide.md" in err
    assert "no indexed source 'docs/nothing.txt'" in err
    assert len(json.loads(_run(capsys, "sources", "--json")[1])) == 3

    # Nothing ingestible at all: non-zero exit, still no traceback.
    bad = folder.parent / "bad"
    bad.mkdir()
    _bad_files(bad)
    code, _, err = _run(capsys, "ingest", "bad")
    assert code == 1
    assert "nothing could be ingested" in err
    assert "Traceback" not in err

    # Another embedding model: one clear error line, then --rebuild starts over.
    monkeypatch.setenv("CHATBOT_EMBEDDING_MODEL", "fake-hashing-other")
    code, _, err = _run(capsys, "sources")
    assert code == 2
    assert "was built with embedding model 'fake-hashing-256'" in err
    code, _, err = _run(capsys, "ingest", "docs", "--rebuild")
    assert code == 0
    assert "4 added" in err


def test_seeded_fixture_skips_seed_boilerplate(seeded: Pipeline) -> None:
    texts = [d.page_content for d in seeded.index.all_chunks()]
    assert texts
    assert not any("Enjoying this article" in t for t in texts)
    _check_consistent(seeded.index, seeded.retriever)
