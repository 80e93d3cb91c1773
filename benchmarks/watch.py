"""What one `chatbot ingest --watch` batch costs in a big folder (fake embeddings).

    .venv/bin/python benchmarks/watch.py --files 2000

Writes N small .txt files (100 per subfolder) to a temporary folder and ingests them, then
times, with `chatbot.watch.FolderSync` (what the watcher runs, without the OS events):
a catch-up batch over the whole folder with nothing changed, a batch for one edited file, and
a batch for one renamed file (its vectors are reused; the embeddings count what they embed).
Each is repeated and the median reported. The fake embeddings keep the model out of it: this
is the fixed cost of a batch (walking the folder, the records, the lock, the commit).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from chatbot.config import Settings
from chatbot.fakes import HashingEmbeddings
from chatbot.index import Index
from chatbot.watch import FolderSync, WatchBatch


class Counting(HashingEmbeddings):
    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed_documents(texts)


def timed(sync: FolderSync, paths: set[Path]) -> tuple[float, WatchBatch]:
    started = time.perf_counter()
    result = sync.apply(paths)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        for n in range(args.files):
            folder = docs / f"d{n // 100:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{n}.txt").write_text(f"File {n} says word{n}, then more {n * 7}.\n")
        settings = Settings(
            llm_provider="fake", embeddings_provider="fake", data_dir=Path(tmp) / "data",
            _env_file=None,  # type: ignore[call-arg]
        )
        embeddings = Counting()
        index = Index(settings, embeddings)
        sync = FolderSync(index, [docs])
        first, _ = timed(sync, sync.everything())
        catch_up = [timed(sync, sync.everything())[0] for _ in range(args.repeats)]
        edit, rename, reembedded = [], [], 0
        target = docs / "d000" / "f0.txt"
        for n in range(args.repeats):
            target.write_text(f"File 0 was edited {n} times: word{n}.\n")
            seconds, batch = timed(sync, {target})
            assert batch.report.count("updated") == 1, batch.summary()
            edit.append(seconds)
            moved = target.with_name(f"renamed{n}.txt")
            target.rename(moved)
            before = embeddings.embedded
            seconds, batch = timed(sync, {target, moved})
            assert len(batch.moved) == 1, batch.summary()
            reembedded += embeddings.embedded - before
            rename.append(seconds)
            target = moved
        print(json.dumps({
            "files": args.files,
            "first_ingest_s": round(first, 2),
            "catch_up_unchanged_median_s": round(statistics.median(catch_up), 3),
            "one_edit_median_s": round(statistics.median(edit), 3),
            "one_rename_median_s": round(statistics.median(rename), 3),
            "chunks_embedded_by_renames": reembedded,
        }))


if __name__ == "__main__":
    main()
