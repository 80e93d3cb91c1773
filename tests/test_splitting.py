"""Splitting: exact offsets, whole sentences, structure as boundaries, boilerplate left out."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.loaders import LoadLimits, join_pages, load, normalize
from chatbot.models import Chunk
from chatbot.splitting import page_furniture, split_text
from chatbot.tables import Assembler, Table

SEED = Path(__file__).resolve().parent.parent / "seeds" / "xi-kazakhstan-visit.txt"
BANNER = "Enjoying this article? Click here to subscribe for full access. Just $5 a month."
WORDS = ["river", "stone", "lantern", "orchard", "harbour", "meadow", "copper", "violin"]


def _sentences(rng: random.Random, count: int, max_words: int = 30) -> list[str]:
    out = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, max_words))]
        out.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
    return out


def _check_offsets(chunks: list[Chunk], text: str) -> None:
    assert chunks
    for i, chunk in enumerate(chunks):
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.index == i
        assert chunk.text == chunk.text.strip()


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (180, 60), (700, 120), (2000, 300)])
def test_chunks_are_whole_sentences_within_the_size(size: int, overlap: int) -> None:
    rng = random.Random(size)
    paragraphs = [" ".join(_sentences(rng, rng.randint(1, 6))) for _ in range(25)]
    text = normalize("\n\n".join(paragraphs))
    sentences = [s for p in paragraphs for s in _sentences_of(p)]
    starts = {text.index(s) for s in sentences}
    ends = {text.index(s) + len(s) for s in sentences}
    chunks = split_text(text, "doc", size, overlap)
    _check_offsets(chunks, text)
    long_spans = [(text.index(s), text.index(s) + len(s)) for s in sentences if len(s) > size]
    for chunk in chunks:
        assert len(chunk.text) <= size
        if not any(a < chunk.end and chunk.start < b for a, b in long_spans):
            assert chunk.start in starts, chunk.text
            assert chunk.end in ends, chunk.text
    # Nothing is lost: every sentence is inside some chunk (or cut into pieces when too long).
    covered = " ".join(c.text for c in chunks)
    for sentence in sentences:
        if len(sentence) <= size:
            assert sentence in covered


def _sentences_of(paragraph: str) -> list[str]:
    parts, current = [], []
    for word in paragraph.split(" "):
        current.append(word)
        if word[-1] in ".!?":
            parts.append(" ".join(current))
            current = []
    return parts


def test_a_sentence_longer_than_the_size_is_cut_at_spaces() -> None:
    sentence = "Lantern " + " ".join(["lantern"] * 80) + "."
    text = f"Short start. {sentence} Short end."
    chunks = split_text(text, "doc", 120, 0)
    _check_offsets(chunks, text)
    assert all(len(c.text) <= 120 for c in chunks)
    assert len(chunks) >= len(sentence) // 120
    # Cut at spaces only, and nothing lost or repeated (no overlap asked for).
    assert " ".join(c.text for c in chunks) == text


def test_overlap_repeats_trailing_sentences() -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(40))
    chunks = split_text(text, "doc", 200, 60)
    _check_offsets(chunks, text)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # each chunk starts inside its predecessor
        assert before.text.endswith(text[after.start : before.end])


def test_seed_boilerplate_never_reaches_a_chunk() -> None:
    document = load(SEED, LoadLimits())
    assert document.text.count(BANNER) == 2
    chunks = split_text(document.text, "seed", 700, 120)
    _check_offsets(chunks, document.text)
    joined = "\n".join(c.text for c in chunks)
    assert "Enjoying this article" not in joined
    assert "subscribe for full access" not in joined
    # ... while every other paragraph is kept.
    for paragraph in document.text.split("\n\n"):
        if paragraph != BANNER:
            assert paragraph[:80] in joined


def test_markdown_headings_start_chunks() -> None:
    text = (
        "# Guide\n## Install\nRun the installer. It takes a minute.\n\n"
        "## Configure\nEdit the file. Save it.\nThen restart.\n\n"
        "## Use\nAsk a question."
    )
    chunks = split_text(text, "guide.md", 500, 0, markdown=True)
    _check_offsets(chunks, text)
    assert [c.text.split("\n")[0] for c in chunks] == ["# Guide", "## Configure", "## Use"]
    assert chunks[0].text.startswith("# Guide\n## Install\nRun the installer.")
    # Without markdown, '#' lines are plain text and do not force a break.
    assert len(split_text(text, "guide.txt", 500, 0)) == 1


def test_chunks_respect_pages_and_number_them() -> None:
    pages = [
        "Annual Review 2024\nOrchards did well. Prices rose.\n12",
        "Annual Review 2024\nThe mill was repaired. It reopened in May.\n13",
        "Annual Review 2024\nNew trees were planted along the river.\n14",
    ]
    document = join_pages(pages)
    chunks = split_text(document.text, "r.pdf", 500, 100, page_starts=document.page_starts)
    _check_offsets(chunks, document.text)
    assert [c.page for c in chunks] == [1, 2, 3]
    assert chunks[1].text == "The mill was repaired. It reopened in May."
    joined = " ".join(c.text for c in chunks)
    assert "Annual Review" not in joined  # running header
    assert "13" not in joined  # page number footer


def test_page_furniture_needs_repetition_across_pages() -> None:
    document = join_pages(["Unique heading one\nBody a.", "Unique heading two\nBody b."])
    assert page_furniture(document.text, document.page_starts) == []


def test_cjk_sentences_split_without_spaces() -> None:
    text = "今天天气很好。我们去公园散步。然后回家吃饭。" * 5
    chunks = split_text(text, "zh.txt", 30, 0)
    _check_offsets(chunks, text)
    assert all(c.text.endswith("。") for c in chunks)


# --- tables: rows stay whole and named, one table per chunk ---------------------------------------
CAPTION = "Table 1: harvest figures"
_WORD = st.sampled_from([*WORDS, "7", "2022", "#3", "-", "Dr.", "a.m."])
_VALUE = st.lists(_WORD, min_size=0, max_size=6).map(" ".join)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[list[str | Table], int, int]:
    blocks: list[str | Table] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            rng = random.Random(draw(st.integers(0, 10**6)))
            blocks.append(" ".join(_sentences(rng, rng.randint(1, 5))))
        if draw(st.booleans()):
            blocks.append("# " + draw(st.sampled_from(WORDS)).title())
        width = draw(st.integers(2, 5))
        names = [f"{w.title()} {i}" for i, w in enumerate(draw(
            st.lists(st.sampled_from(WORDS), min_size=width, max_size=width)))]
        rows = draw(st.lists(st.lists(_VALUE, min_size=width, max_size=width), min_size=1,
                             max_size=40))
        blocks.append(Table([names, *rows], header_rows=1, caption=draw(st.sampled_from(
            ["", CAPTION]))))
    size = draw(st.integers(100, 900))
    return blocks, size, draw(st.integers(0, size // 3))


@settings(max_examples=120, deadline=None)
@given(_documents(), st.booleans())
def test_a_table_is_cut_between_rows_and_every_row_names_its_columns(
    case: tuple[list[str | Table], int, int], markdown: bool
) -> None:
    blocks, size, overlap = case
    out = Assembler(normalize)
    names_of: list[list[str]] = []
    for block in blocks:
        if isinstance(block, Table):
            out.table(block)
            names_of.append(block.rows[0])
        else:
            out.text(block)
    text, tables = out.result()
    assert normalize(text) == text
    chunks = split_text(text, "doc", size, overlap, markdown=markdown, tables=tables)
    _check_offsets(chunks, text)
    rows_seen: set[tuple[int, int]] = set()  # (table, offset of a row held whole)
    for chunk in chunks:
        inside = [(a, b) for a, b in tables if a < chunk.end and chunk.start < b]
        if not inside:
            continue
        assert len(inside) == 1, "a chunk holds one table and nothing else but a heading"
        (a, b), t = inside[0], tables.index(inside[0])
        head = text[chunk.start : a]
        assert chunk.start >= a or (markdown and head.startswith("#") and "\n\n" in head)
        assert chunk.end <= b
        begin = max(chunk.start, a)
        for line_start, line in _lines(text, a, b):
            line_end = line_start + len(line)
            if line_end <= begin or line_start >= chunk.end:
                continue
            if begin <= line_start and line_end <= chunk.end:
                rows_seen.add((t, line_start))
            else:  # only a row longer than a chunk is cut, and only between its cells
                assert len(line) > size, line
                cut_start, cut_end = max(begin, line_start), min(chunk.end, line_end)
                assert cut_start == line_start or text[cut_start - 3 : cut_start] == " | "
                assert cut_end == line_end or text[cut_end : cut_end + 3] == " | "
            if line != CAPTION:
                cells = line.split(" | ")
                assert all(c.split(": ", 1)[0] in names_of[t] for c in cells if ": " in c), line
    for t, (a, b) in enumerate(tables):
        for line_start, line in _lines(text, a, b):
            if len(line) <= size:
                assert (t, line_start) in rows_seen, f"row not whole in any chunk: {line!r}"


def _lines(text: str, start: int, end: int) -> list[tuple[int, str]]:
    out, offset = [], start
    for line in text[start:end].split("\n"):
        out.append((offset, line))
        offset += len(line) + 1
    return out
