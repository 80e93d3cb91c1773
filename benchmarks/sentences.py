"""Sentence splitters compared: boundary accuracy on tests/data/sentences/cases.jsonl and speed.

    .venv/bin/python benchmarks/sentences.py [--text corpus.jsonl ...] [--show NAME]

Accuracy: a case is exact when the predicted sentence starts equal the gold ones; precision and
recall are over sentence starts. Speed: characters per second over the `text` fields of the
corpus files (default: benchmarks/data/*/corpus.jsonl), best of 5 runs. Optional candidates
(pysbd, syntok, nupunkt) are measured when installed (`pip install pysbd syntok nupunkt`).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from chatbot.sentences import sentence_spans

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "data" / "sentences" / "cases.jsonl"
Spans = list[tuple[int, int]]

# The regexes the project used before chatbot/sentences.py, kept here for the comparison.
_OLD_CITATIONS = re.compile(r"[^.!?\n]+(?:[.!?]+[\"'”’)]*|\n|$)(?:\s*\[\d+(?:\s*,\s*\d+)*\])*\.?")
_UPPER = "A-Z0-9À-ÖØ-ÞĀ-ſΑ-ΩА-Я"
_OLD_SPLITTING = re.compile(
    rf"(?<=[.!?…])[\"'”’»)\]]*\s+(?=[\"'“‘«(\[¿¡]?[{_UPPER}])|(?<=[。！？])[」』”）]*\s*(?=\S)"
)


def old_citations(text: str) -> Spans:
    return [(m.start(), m.end()) for m in _OLD_CITATIONS.finditer(text) if m.group(0).strip()]


def old_splitting(text: str) -> Spans:
    out, begin = [], 0
    for match in _OLD_SPLITTING.finditer(text):
        out.append((begin, match.start()))
        begin = match.end()
    return [*out, (begin, len(text))]


def _by_pieces(pieces: list[str], text: str) -> Spans:
    out, offset = [], 0
    for piece in pieces:
        at = text.find(piece, offset) if piece else offset
        at = offset if at < 0 else at
        out.append((at, at + len(piece)))
        offset = at + len(piece)
    return out


def candidates() -> dict[str, Callable[[str], Spans]]:
    import sentencex

    found: dict[str, Callable[[str], Spans]] = {
        "chatbot.sentences (documents)": sentence_spans,
        "chatbot.sentences (replies, lines=True)": lambda t: sentence_spans(t, lines=True),
        "sentencex alone": lambda t: _by_pieces(list(sentencex.segment("en", t)), t),
        "old citations._SENTENCE": old_citations,
        "old splitting._SENTENCE_END": old_splitting,
    }
    try:
        import pysbd

        seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
        found["pysbd"] = lambda t: [(s.start, s.end) for s in seg.segment(t)]
    except ImportError:
        pass
    try:
        from syntok import segmenter

        found["syntok"] = lambda t: [
            (s[0].offset, s[-1].offset + len(s[-1].value))
            for p in segmenter.analyze(t) for s in p
        ]
    except ImportError:
        pass
    try:
        import nupunkt

        found["nupunkt"] = nupunkt.sent_spans
    except ImportError:
        pass
    return found


def _starts(text: str, spans: Spans) -> set[int]:
    out = set()
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        if 0 < a < b:
            out.add(a)
    return out


def gold() -> list[tuple[str, set[int]]]:
    cases = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        text = case["sep"].join(case["sentences"])
        starts, pos = [], 0
        for sentence in case["sentences"]:
            at = text.index(sentence, pos)
            starts.append(at)
            pos = at + len(sentence)
        cases.append((text, set(starts[1:])))
    return cases


def accuracy(split: Callable[[str], Spans], show: bool = False) -> tuple[int, float, float]:
    exact = tp = fp = fn = 0
    for text, want in gold():
        got = _starts(text, split(text))
        tp, fp, fn = tp + len(want & got), fp + len(got - want), fn + len(want - got)
        exact += got == want
        if show and got != want:
            print(f"    {text!r}")
    return exact, tp / ((tp + fp) or 1), tp / ((tp + fn) or 1)


def speed(split: Callable[[str], Spans], texts: list[str]) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for text in texts:
            split(text)
        best = min(best, time.perf_counter() - started)
    return sum(map(len, texts)) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", action="append", type=Path, help="corpus.jsonl for speed")
    parser.add_argument("--show", action="append", default=[], help="print a splitter's misses")
    args = parser.parse_args()
    files = args.text or sorted((ROOT / "benchmarks" / "data").glob("*/corpus.jsonl"))
    texts = [json.loads(line)["text"] for f in files for line in f.read_text().splitlines()]
    total = len(gold())
    print(f"{total} cases; speed over {sum(map(len, texts)):,} characters of {len(files)} file(s)")
    print("| splitter | exact cases | precision | recall | F1 | M chars/s |")
    print("|---|---|---|---|---|---|")
    for name, split in candidates().items():
        split("Warm up. Once.")
        exact, p, r = accuracy(split)
        f1 = 2 * p * r / ((p + r) or 1)
        rate = speed(split, texts)
        print(f"| {name} | {exact}/{total} | {p:.3f} | {r:.3f} | {f1:.3f} | {rate / 1e6:.2f} |")
        if name in args.show:
            accuracy(split, show=True)


if __name__ == "__main__":
    main()
