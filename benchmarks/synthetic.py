"""A synthetic corpus of any size from text the repo ships (no downloads), and questions on it.

Sentences come from the docstrings of benchmarks/data/pydoc_en, the seed article, the seed_en
set, README.md and docs/benchmarks.md. Each file strings together randomly chosen sentences;
about 15 % of their longer words are replaced by made-up words drawn from a Zipf distribution
(exponent 1.15) over ten million, so, as in a real collection, the vocabulary keeps growing
with the corpus (Heaps' law) and most words are rare while a few are everywhere. Everything is
a pure function of (seed, file number): file n is the same text in every run.

Questions: the 100 pydoc_en and 32 seed_en questions (real questions, mostly common words),
and as many made from random chunks of the corpus (a few words of one sentence, rare words
included), so both the hardest case for keyword search (only common terms) and the typical one
are measured.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SYLLABLES = ["ka", "lo", "mi", "ren", "ta", "vo", "shi", "del", "an", "ur", "pe", "zo", "bri",
             "gan", "tu", "nel", "os", "qua", "fi", "mar"]
#: Characters per file: about 20 chunks of the default 700 characters (with overlap).
FILE_CHARS = 10_500


@cache
def sentences() -> tuple[tuple[str, ...], ...]:
    """Every sentence of the shipped texts, as word tuples."""
    texts = []
    for name in ("pydoc_en", "seed_en"):
        path = ROOT / "benchmarks" / "data" / name / "corpus.jsonl"
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line]
    for path in ("seeds/xi-kazakhstan-visit.txt", "README.md", "docs/benchmarks.md"):
        texts.append((ROOT / path).read_text(encoding="utf-8"))
    found = []
    for text in texts:
        for piece in re.split(r"(?<=[.!?])\s+|\n\s*\n", text):
            words = tuple(piece.split())
            if len(words) >= 4:
                found.append(words)
    return tuple(found)


def made_up(number: int) -> str:
    """A pronounceable word for a number (distinct numbers, distinct words)."""
    out = []
    while True:
        out.append(SYLLABLES[number % len(SYLLABLES)])
        number //= len(SYLLABLES)
        if number == 0:
            return "".join(out)


def file_text(seed: int, number: int, chars: int = FILE_CHARS) -> str:
    """The text of synthetic file `number`: paragraphs of 3-6 sentences."""
    rng = np.random.default_rng([seed, number])
    pool = sentences()
    paragraphs: list[str] = []
    size = 0
    while size < chars:
        picked = rng.integers(len(pool), size=int(rng.integers(3, 7)))
        words = [w for i in picked for w in pool[i]]
        swap = rng.random(len(words)) < 0.15
        ranks = rng.zipf(1.15, size=len(words))
        for i in np.flatnonzero(swap):
            if len(words[i]) > 3:
                words[i] = made_up(int(ranks[i]) * 7919 % 10_000_019)
        paragraph = " ".join(words)
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def write_files(folder: Path, seed: int, first: int, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(first, first + count):
        path = folder / f"doc-{number:07d}.txt"
        path.write_text(file_text(seed, number), encoding="utf-8")
        paths.append(path)
    return paths


def questions(seed: int, files: int, count: int) -> list[str]:
    """`count` questions: the shipped question sets first, then ones made from the corpus."""
    shipped = []
    for name in ("pydoc_en", "seed_en"):
        path = ROOT / "benchmarks" / "data" / name / "questions.jsonl"
        shipped += [json.loads(line)["question"] for line in path.read_text().splitlines()]
    rng = np.random.default_rng([seed, 1 << 30])
    made = []
    while len(made) < count // 2:
        text = file_text(seed, int(rng.integers(files)))
        sentence = rng.choice(re.split(r"(?<=[.!?])\s+", text)).split()
        if len(sentence) >= 6:
            start = int(rng.integers(0, len(sentence) - 5))
            made.append(" ".join(sentence[start : start + 6]))
    picked = rng.choice(len(shipped), size=count - len(made), replace=False)
    return [shipped[int(i)] for i in picked] + made
