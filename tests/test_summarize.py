"""Summaries: map-reduce over all chunks, global chunk numbering, citation checks, CLI shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.config import Settings
from chatbot.fakes import FakeChatModel
from chatbot.models import Summary
from chatbot.pipeline import Pipeline
from chatbot.summarize import (
    SummaryError,
    display_texts,
    is_summary_request,
    map_budget,
    plan_batches,
    read_chunks,
    requested_sources,
    select_sources,
    summarize,
)

SEED = "seeds/xi-kazakhstan-visit.txt"
ONE_CHUNK = (
    "The Harbor Museum opened in 1901 on the old customs wharf. It holds ship models, "
    "maps and the logbooks of the port's pilots.\n"
)


def _pipeline(settings: Settings, **overrides: object) -> Pipeline:
    return Pipeline.build(settings.with_overrides(**overrides))


def _assert_exact(pipeline: Pipeline, summary: Summary) -> None:
    """Every citation is a real chunk: `text == document[start:end]`."""
    for c in summary.citations:
        document = pipeline.index.document_text(c.source)
        assert document is not None
        assert c.text == document[c.start : c.end]
        assert c.support_start is not None and c.support_end is not None
        assert c.start <= c.support_start < c.support_end <= c.end


@pytest.fixture
def one_chunk(fake_settings: Settings, tmp_path: Path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "museum.txt").write_text(ONE_CHUNK, encoding="utf-8")
    Pipeline.build(fake_settings).index.ingest([Path("docs")])
    return fake_settings


def test_one_chunk_document_is_a_single_map_call(one_chunk: Settings) -> None:
    pipeline = _pipeline(
        one_chunk,
        fake_llm_replies=[
            "Summary:\n- The Harbor Museum opened in 1901 [1].\n"
            "- It holds ship models and pilots' logbooks [1]."
        ],
    )
    summary = summarize(pipeline, ["docs/museum.txt"], bullets=3)

    assert summary.chunks_read == 1
    assert summary.map_batches == 1
    assert [b.text for b in summary.bullets] == [
        "The Harbor Museum opened in 1901 [1].",
        "It holds ship models and pilots' logbooks [1].",
    ]
    assert all(b.citations == [1] and b.supported for b in summary.bullets)
    assert [c.n for c in summary.citations] == [1]
    assert summary.citations[0].source == "docs/museum.txt"
    _assert_exact(pipeline, summary)
    model = pipeline.chat.model
    assert isinstance(model, FakeChatModel) and model.calls == 1  # no reduce step
    assert summary.timings["reduce_s"] == 0.0
    assert summary.usage["prompt_tokens"] > 0 and summary.usage["completion_tokens"] > 0


def test_document_needing_several_map_batches(seeded: Pipeline) -> None:
    small = {"llm_context": 1024}
    probe = _pipeline(seeded.settings, **small)
    passages = read_chunks(probe.index, [SEED])
    budget = map_budget(probe, 2)
    batches, _, _ = plan_batches(passages, display_texts(passages), budget, sections=2)
    assert len(batches) >= 3
    last = batches[-1][0] + 1  # global number of the last batch's first chunk
    replies = ["- This part of the article is about Xi and Kazakhstan [1]."] * len(batches)
    replies.append(
        f"- Xi visits Kazakhstan first [1].\n- The region's power balance shifts [{last}].\n"
        "- An invented point [99]."
    )
    pipeline = _pipeline(seeded.settings, fake_llm_replies=replies, **small)
    seen: list[tuple[int, int]] = []

    summary = summarize(
        pipeline, ["seeds/"], bullets=2, progress=lambda d, t: seen.append((d, t))
    )

    assert summary.chunks_read == len(passages) == pipeline.index.count()
    assert summary.map_batches == len(batches)
    assert seen == [(i, len(batches)) for i in range(len(batches) + 1)]
    model = pipeline.chat.model
    assert isinstance(model, FakeChatModel) and model.calls == len(batches) + 1
    assert [b.citations for b in summary.bullets] == [[1], [last]]
    assert [c.n for c in summary.citations] == [1, last]
    assert summary.citations[1].start == passages[last - 1].start
    assert summary.citations[1].chunk_id == passages[last - 1].chunk_id
    assert [b.text for b in summary.dropped_bullets] == ["An invented point."]
    assert any("removed citation [99]" in note for note in summary.notes)
    _assert_exact(pipeline, summary)


def test_sections_give_one_bullet_each_and_skip_the_merge(seeded: Pipeline) -> None:
    replies = [f"- Part {n} of the article [1].\n- An extra point [2]." for n in range(1, 6)]
    pipeline = _pipeline(seeded.settings, fake_llm_replies=replies)
    summary = summarize(pipeline, bullets=5)
    passages = read_chunks(pipeline.index, [SEED])

    assert summary.map_batches == 5
    model = pipeline.chat.model
    assert isinstance(model, FakeChatModel) and model.calls == 5  # no reduce call
    first = [b.citations[0] for b in summary.bullets]  # each section's first chunk
    assert first[0] == 1 and first == sorted(first) and len(set(first)) == 5
    assert [b.text for b in summary.bullets] == [
        f"Part {n} of the article [{c}]." for n, c in enumerate(first, 1)
    ]
    assert passages[first[-1] - 1].end > 2 * len(pipeline.index.document_text(SEED) or "") // 3


def test_unknown_source_is_a_clear_error(seeded: Pipeline) -> None:
    with pytest.raises(SummaryError, match=r"no indexed source 'nope\.txt'.*" + SEED):
        summarize(seeded, ["nope.txt"])


def test_empty_index_is_a_clear_error(fake_settings: Settings) -> None:
    with pytest.raises(SummaryError, match="index is empty"):
        summarize(Pipeline.build(fake_settings))


def test_bullets_without_valid_citations_are_dropped_and_reported(one_chunk: Settings) -> None:
    pipeline = _pipeline(
        one_chunk,
        fake_llm_replies=[
            "- The Harbor Museum opened in 1901 [1].\n- Penguins dance on Mars.\n"
            "- Unicorns fly over the bay [7]."
        ],
    )
    summary = summarize(pipeline)
    data = json.loads(json.dumps(summary.to_json()))

    assert [b["text"] for b in data["bullets"]] == ["The Harbor Museum opened in 1901 [1]."]
    assert [(b["text"], b["supported"]) for b in data["dropped_bullets"]] == [
        ("Penguins dance on Mars.", False),
        ("Unicorns fly over the bay.", False),
    ]
    assert any("removed citation [7]" in n for n in data["notes"])
    assert sum("dropped bullet" in n for n in data["notes"]) == 2


def test_uncited_bullet_backed_by_a_chunk_is_attributed(one_chunk: Settings) -> None:
    pipeline = _pipeline(
        one_chunk, fake_llm_replies=["- The Harbor Museum opened in 1901 on the customs wharf."]
    )
    summary = summarize(pipeline)

    assert [b.citations for b in summary.bullets] == [[1]]
    assert summary.bullets[0].text.endswith("[1].")


def test_bullet_count_is_validated(one_chunk: Settings) -> None:
    with pytest.raises(SummaryError, match="between 1 and"):
        summarize(Pipeline.build(one_chunk), bullets=0)


def test_select_sources_accepts_paths_and_folders(seeded: Pipeline) -> None:
    assert select_sources(seeded.index, None) == [SEED]
    assert select_sources(seeded.index, ["seeds"]) == [SEED]
    assert select_sources(seeded.index, [f"./{SEED}", SEED]) == [SEED]


def test_extra_bullets_are_spread_over_the_batch(one_chunk: Settings) -> None:
    reply = "\n".join(f"- The Harbor Museum, point {n} [1]." for n in range(1, 14))
    pipeline = _pipeline(one_chunk, fake_llm_replies=[reply])
    summary = summarize(pipeline, bullets=3)

    assert summary.map_batches == 1
    assert [b.text for b in summary.bullets] == [
        f"The Harbor Museum, point {n} [1]." for n in (1, 7, 13)
    ]
    assert any("kept 3 spread" in note for note in summary.notes)


def test_display_texts_cut_the_overlap_with_the_previous_chunk(seeded: Pipeline) -> None:
    passages = read_chunks(seeded.index, [SEED])
    texts = display_texts(passages)
    for prev, p, text in zip(passages, passages[1:], texts[1:], strict=False):
        if prev.end > p.start:
            assert len(text) < len(p.text) and p.text.endswith(text)
        else:
            assert text == p.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("summarize the article", True),
        ("Summarise seeds/xi-kazakhstan-visit.txt", True),
        ("Please give me a short summary of the documents", True),
        ("Can you sum up the visit?", True),
        ("tl;dr", True),
        ("Who is Tokayev?", False),
        ("What does the summary of the SCO summit say?", False),
    ],
)
def test_is_summary_request(text: str, expected: bool) -> None:
    assert is_summary_request(text) is expected


def test_requested_sources() -> None:
    known = [SEED, "docs/museum.txt"]
    assert requested_sources("summarize xi-kazakhstan-visit.txt", known) == [SEED]
    assert requested_sources("summarize museum", known) == ["docs/museum.txt"]
    assert requested_sources("summarize everything", known) == []


def test_cli_json_shape(seeded: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    from chatbot.cli import build_parser

    settings = seeded.settings.with_overrides(
        fake_llm_replies=["- Xi visits Kazakhstan before the SCO summit [1]."]
    )
    args = build_parser().parse_args(["summarize", SEED, "--bullets", "3", "--json"])
    assert args.handler(settings, args) == 0
    data = json.loads(capsys.readouterr().out)

    assert {"sources", "bullets", "citations", "chunks_read", "usage", "timings"} <= set(data)
    assert data["sources"] == [SEED]
    assert data["bullets"][0]["citations"] == [1]
    assert set(data["citations"][0]) >= {"n", "source", "chunk_id", "text", "start", "end", "page"}


def test_cli_unknown_source_prints_one_line(seeded: Pipeline) -> None:
    from chatbot import ChatbotError
    from chatbot.cli import build_parser

    args = build_parser().parse_args(["summarize", "missing.txt"])
    with pytest.raises(ChatbotError) as info:
        args.handler(seeded.settings, args)
    assert "no indexed source 'missing.txt'" in str(info.value)


@pytest.mark.slow
def test_embedded_model_summary_covers_the_seed_article(tmp_path: Path, seed_dir: Path) -> None:
    settings = Settings(
        llm_provider="local",
        embeddings_provider="local",
        data_dir=tmp_path / "data",
        request_timeout=1800,  # no timing threshold: the 2 cores may be shared
        max_retries=0,
        _env_file=None,  # type: ignore[call-arg]
    )
    pipeline = Pipeline.build(settings)
    pipeline.index.ingest([Path("seeds")])

    summary = summarize(pipeline, ["seeds/"])
    report = {k: getattr(summary, k) for k in ("timings", "usage", "map_batches", "notes")}
    print(json.dumps({**report, "bullets": [b.text for b in summary.bullets]}, indent=1))

    assert summary.chunks_read == pipeline.index.count()
    assert len(summary.bullets) >= 3
    assert all(b.citations for b in summary.bullets)
    _assert_exact(pipeline, summary)
    length = len(pipeline.index.document_text(SEED) or "")
    thirds = {min(2, 3 * ((c.start + c.end) // 2) // length) for c in summary.citations}
    assert thirds == {0, 1, 2}, f"citations only cover thirds {sorted(thirds)}"


def test_stray_fragments_are_not_reported_as_claims(one_chunk: Settings) -> None:
    pipeline = _pipeline(one_chunk, fake_llm_replies=['- The Harbor Museum opened in 1901 [1]. "'])
    summary = summarize(pipeline)

    # The quote is the model's text and stays (the checker only edits markers), but it is no
    # claim: no note, no dropped bullet.
    assert [b.text for b in summary.bullets] == ['The Harbor Museum opened in 1901 [1]. "']
    assert summary.notes == [] and summary.dropped_bullets == []


def test_a_preamble_instead_of_the_bullet_asks_again(one_chunk: Settings) -> None:
    replies = ["Here is a summary:", "- The Harbor Museum opened in 1901 [1]."]
    pipeline = _pipeline(one_chunk, fake_llm_replies=replies)
    summary = summarize(pipeline, bullets=1)

    assert [b.text for b in summary.bullets] == ["The Harbor Museum opened in 1901 [1]."]
    model = pipeline.chat.model
    assert isinstance(model, FakeChatModel) and model.calls == 2
