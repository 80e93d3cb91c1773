"""Ingestion throughput against the raw throughput of the same embedding model, same run.

    .venv/bin/python benchmarks/ingest.py --docs 160

Writes N documents (paragraphs of the XQuAD English corpus, one .txt each, or with `--pdf` one
text-only PDF each) to a temporary folder, ingests them with the real local embeddings (fake
chat model, never started), and embeds the very same chunk texts directly with
`embed_documents`. The documents are split
into rounds and the two measurements alternate (raw, ingest, ingest, raw, ...) so that other
load on a shared machine hits both alike. Reports pipeline chunks/s, raw chunks/s and their
ratio (target >= 0.85), the same ratio in CPU time of this process, the share of ingest time
spent inside the model, and the time of a second, no-op ingest of the unchanged folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from chatbot.config import Settings
from chatbot.index import Index
from chatbot.loaders import LoadLimits, load
from chatbot.providers import make_embeddings
from chatbot.splitting import split_text

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "benchmarks" / "xquad_en" / "corpus.jsonl"


def write_documents(corpus: Path, count: int, folder: Path, pdf: bool = False) -> list[Path]:
    """One .txt (or, with `pdf`, one text-only PDF) per corpus row (title + paragraph); rows
    are reused with a copy marker if more documents are asked for than the corpus holds."""
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line]
    paths = []
    for n in range(count):
        row = rows[n % len(rows)]
        copy = n // len(rows)
        marker = f" (copy {copy})" if copy else ""
        path = folder / f"{n:05d}-{row['id']}.txt"
        if pdf:
            path = _write_pdf(path.with_suffix(".pdf"), f"{row['title']}{marker}", row["text"])
        else:
            path.write_text(f"{row['title']}{marker}\n\n{row['text']}\n", encoding="utf-8")
        paths.append(path)
    return paths


def _write_pdf(path: Path, title: str, text: str) -> Path:
    """A text-only PDF (tests/pdf_maker.py): the title, then the text in lines of ~90
    characters, 40 lines a page."""
    sys.path.insert(0, str(ROOT / "tests"))
    from pdf_maker import Page, write_pdf

    lines = [title, *textwrap.wrap(text, 90)]
    pages = [Page() for _ in range(0, len(lines), 40)]
    for i, line in enumerate(lines):
        pages[i // 40].text(line)
    return write_pdf(path, pages)


def chunk_texts(settings: Settings, paths: list[Path]) -> list[str]:
    """The chunk texts the pipeline will embed, made by the same loader and splitter."""
    texts: list[str] = []
    for path in paths:
        document = load(path, LoadLimits.from_settings(settings))
        chunks = split_text(
            document.text,
            path.name,
            settings.chunk_size,
            settings.chunk_overlap,
            markdown=document.markdown,
            page_starts=document.page_starts,
            tables=document.tables,
        )
        texts.extend(c.text for c in chunks)
    return texts


class TimedEmbeddings(Embeddings):
    """Delegates to the real embeddings and adds up the wall and CPU time spent in them."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.wall = 0.0
        self.cpu = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@dataclass
class Totals:
    """Chunks and seconds (wall and this process's CPU) summed over rounds."""

    chunks: int = 0
    wall: float = 0.0
    cpu: float = 0.0

    def add(self, chunks: int, wall: float, cpu: float) -> None:
        self.chunks += chunks
        self.wall += wall
        self.cpu += cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=160, help="documents to ingest")
    parser.add_argument("--rounds", type=int, default=4, help="alternating measurement rounds")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="JSONL with title, text")
    parser.add_argument("--batch-size", type=int, help="CHATBOT_EMBED_BATCH_SIZE override")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--pdf", action="store_true", help="write text-only PDFs, not .txt")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="chatbot-bench-") as tmp:
        root = Path(tmp) / "docs"
        overrides: dict[str, Any] = {"embed_batch_size": args.batch_size}
        settings = Settings(
            llm_provider="fake",
            embeddings_provider="local",
            data_dir=Path(tmp) / "data",
            _env_file=None,  # type: ignore[call-arg]
        ).with_overrides(**overrides)
        root.mkdir()
        paths = write_documents(args.corpus, args.docs, root, pdf=args.pdf)
        rounds = max(1, min(args.rounds, len(paths)))
        folders = []
        for r in range(rounds):
            folder = root / f"round{r}"
            folder.mkdir()
            for path in paths[r::rounds]:
                path.rename(folder / path.name)
            folders.append(folder)
        embeddings = make_embeddings(settings)
        embeddings.embed_documents(["warm up the session before any timing"] * 8)
        timed = TimedEmbeddings(embeddings)
        index = Index(settings, timed)
        raw, pipeline = Totals(), Totals()
        all_texts: list[str] = []
        for r, folder in enumerate(folders):
            texts = chunk_texts(settings, sorted(folder.iterdir()))
            all_texts += texts
            # ABBA order, so a steady drift in machine load favours neither side.
            for step in ("raw", "pipeline") if r % 2 == 0 else ("pipeline", "raw"):
                wall, cpu = time.perf_counter(), time.process_time()
                if step == "raw":
                    embeddings.embed_documents(texts)
                    written = len(texts)
                else:
                    written = index.ingest([folder]).chunks_written
                totals = raw if step == "raw" else pipeline
                totals.add(written, time.perf_counter() - wall, time.process_time() - cpu)
        rerun = index.ingest([root])

        stored = sorted(p.text for p in index.chunks([s.source for s in index.sources()]))
        if stored != sorted(all_texts) or pipeline.chunks != len(all_texts):
            print("the index does not hold the expected chunks", file=sys.stderr)
            return 1
        result = {
            "docs": args.docs,
            "format": "pdf" if args.pdf else "txt",
            "chunks": len(all_texts),
            "rounds": rounds,
            "embed_batch_size": settings.embed_batch_size,
            "pipeline_seconds": round(pipeline.wall, 2),
            "pipeline_chunks_per_s": round(pipeline.chunks / pipeline.wall, 2),
            "raw_seconds": round(raw.wall, 2),
            "raw_chunks_per_s": round(raw.chunks / raw.wall, 2),
            "ratio": round(raw.wall / pipeline.wall, 3),
            # Less sensitive to other programs on a shared machine: CPU time of this process.
            "cpu_ratio": round(raw.cpu / pipeline.cpu, 3),
            # Share of the ingests' wall time spent inside the embedding model.
            "embedding_share": round(timed.wall / pipeline.wall, 3),
            "unchanged_rerun_seconds": round(rerun.seconds, 3),
            "rerun_chunks_written": rerun.chunks_written,
        }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['docs']} {result['format']} docs, {result['chunks']} chunks, "
            f"{rounds} rounds: pipeline "
            f"{result['pipeline_chunks_per_s']} chunks/s, raw embeddings "
            f"{result['raw_chunks_per_s']} chunks/s, ratio {result['ratio']} (target >= 0.85); "
            f"CPU-time ratio {result['cpu_ratio']}, embedding share of ingest time "
            f"{result['embedding_share']}; unchanged re-run {result['unchanged_rerun_seconds']} s, "
            f"{result['rerun_chunks_written']} chunks written"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
