"""summarize(pipeline, sources) -> Summary: map-reduce over every chunk of the chosen sources.

A summary must cover the whole document, not the top-k passages, and a long document does not fit
the embedded model's window. So the chunks, in reading order, are cut into one section per
requested bullet, and sections that exceed the window are split again by estimated tokens. Each
batch is summarized into bullets citing its chunks (map); when there are more bullets than asked
for, they are merged (reduce, in rounds when they do not fit at once). Chunks are numbered in
reading order across all sources, so every `[n]` resolves to one chunk; markers are checked like
an answer's after every step, and a bullet left without a valid citation is dropped and reported."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from langchain_core.messages import HumanMessage

from chatbot import guard
from chatbot.context import estimate_tokens, format_passages
from chatbot.index import Index, UnknownSourceError
from chatbot.model_calls import invoke as invoke_model
from chatbot.models import Answer, Bullet, Passage, Sentence, Summary
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt
from chatbot.summary_batches import (
    SummaryError,
    bullet_count,
    map_budget,
    plan_batches,
    shares,
    token_budget,
)
from chatbot.summary_bullets import (
    check_bullet,
    make_citations,
    parse_bullets,
    renumber,
    screened,
    spread,
)

#: Called as progress(done, total) after each map batch.
ProgressFn = Callable[[int, int], None]

MAX_BULLETS = 20
MAX_REDUCE_ROUNDS = 4
#: Completion tokens allowed per requested bullet (a one-sentence bullet is 20-40 tokens).
TOKENS_PER_BULLET = 64

_REQUEST = re.compile(
    r"^\s*(?:please\s+|(?:can|could|would)\s+you\s+(?:please\s+)?)?"
    r"(?:summari[sz]e|sum\s+up|recap|tl;?\s*dr|give\s+(?:me\s+)?(?:a\s+|an\s+)?"
    r"(?:short\s+|brief\s+|quick\s+)?(?:summary|overview)|(?:a\s+)?summary\s+of)\b",
    re.I,
)


def is_summary_request(text: str) -> bool:
    """True for chat messages like "summarize the article" or "give me a summary of X",
    which need every chunk (a summary) rather than the top-k passages (an answer)."""
    return bool(_REQUEST.match(text))


def requested_sources(text: str, known: Sequence[str]) -> list[str]:
    """Indexed sources a chat request names (by path, file name or stem); empty means all."""
    lowered = text.lower()
    named = []
    for source in known:
        path = Path(source)
        names = {source.lower(), path.name.lower()}
        if len(path.stem) >= 4:
            names.add(path.stem.lower())
        if any(re.search(rf"(?<![\w/.-]){re.escape(n)}(?![\w-])", lowered) for n in names):
            named.append(source)
    return named


# --- reading ------------------------------------------------------------------------------
def select_sources(index: Index, sources: Sequence[str] | None) -> list[str]:
    """Resolve the user's source names (exact, as a path, or a folder prefix) to indexed ones."""
    indexed = [record.source for record in index.sources()]
    if not indexed:
        raise SummaryError("the index is empty; run `chatbot ingest PATH` first")
    if not sources:
        return indexed
    try:
        return index.resolve_sources(sources)
    except UnknownSourceError as exc:
        raise SummaryError(str(exc)) from exc


def read_chunks(index: Index, sources: Sequence[str]) -> list[Passage]:
    """Every chunk of `sources`, ordered by source (as given) and then start offset."""
    return index.chunks(sources)


def display_texts(passages: Sequence[Passage]) -> list[str]:
    """Chunk texts as shown to the model: the overlap with the previous chunk is cut, since the
    model has just read it (shorter prompts; citations still carry the whole chunk)."""
    texts = []
    previous: Passage | None = None
    for p in passages:
        text = p.text
        if previous and previous.source == p.source and previous.end > p.start:
            cut = min(previous.end - p.start, len(text))
            space = text.find(" ", cut) if cut and not text[cut - 1].isspace() else cut
            text = text[space if space >= 0 else cut :].strip() or p.text
        texts.append(text)
        previous = p
    return texts


# --- model calls --------------------------------------------------------------------------
def reply_tokens(bullets: int, limit: int) -> int:
    """Completion cap for a reply of `bullets` one-sentence bullets: a small model that ignores
    the count (or loops) would otherwise spend its whole answer budget, at a few tokens/s."""
    return min(limit, TOKENS_PER_BULLET * bullets + 16)


def _invoke(
    pipeline: Pipeline, prompt: str, summary: Summary, bullets: int, one_line: bool = False
) -> tuple[str, bool]:
    """The reply text and whether it was cut at the token cap; `one_line` stops at the first
    line break (one bullet asked: the small model tends to go on with more)."""
    cap = reply_tokens(bullets, pipeline.settings.max_answer_tokens)
    reply = invoke_model(
        pipeline.settings, pipeline.chat.model, [HumanMessage(prompt)],
        stop=["\n"] if one_line else None, max_completion_tokens=cap,
    )
    usage = getattr(reply, "usage_metadata", None)
    if usage:
        summary.usage["prompt_tokens"] += int(usage["input_tokens"])
        summary.usage["completion_tokens"] += int(usage["output_tokens"])
    cut = reply.response_metadata.get("finish_reason") == "length"
    return str(reply.content), cut


def _map(
    pipeline: Pipeline,
    passages: Sequence[Passage],
    batches: Sequence[Sequence[int]],
    shown: Sequence[str],
    bullets: int,
    summary: Summary,
    progress: ProgressFn | None,
) -> list[Bullet]:
    template = load_prompt("summarize_map", pipeline.settings.prompts_dir)
    guarded = pipeline.settings.injection_guard
    out: list[Bullet] = []
    if progress:
        progress(0, len(batches))
    targets = shares(bullets, len(batches))
    for number, (batch, share) in enumerate(zip(batches, targets, strict=True), 1):
        batch_passages = [passages[i] for i in batch]
        prompt = template.format(
            passages=format_passages(batch_passages, [shown[i] for i in batch], guarded),
            bullets=bullet_count(share),
        )
        reply, cut = _invoke(pipeline, prompt, summary, share, one_line=share == 1)
        items = _complete(parse_bullets(reply), cut)
        if not items and share == 1:  # the first line was a preamble: ask again, whole reply
            reply, cut = _invoke(pipeline, prompt, summary, share)
            items = _complete(parse_bullets(reply), cut)
        notes: list[str] = []
        kept: list[Bullet] = []
        for text in screened(items, batch_passages, template.template, notes, guarded):
            bullet = check_bullet(text, batch_passages, [i + 1 for i in batch], notes)
            (kept if bullet.supported else summary.dropped_bullets).append(bullet)
        if len(kept) > share:
            notes.append(f"the model wrote {len(kept)} bullets; kept {share} spread over them")
            kept = spread(kept, share)
        out.extend(kept)
        prefix = f"map batch {number}: " if len(batches) > 1 else ""
        summary.notes.extend(prefix + note for note in notes)
        if progress:
            progress(number, len(batches))
    return out


def _complete(items: list[str], cut: bool) -> list[str]:
    """Drop the last bullet of a reply cut at the token cap, unless it is the only one."""
    return items[:-1] if cut and len(items) > 1 else items


def _format_notes(bullets: Sequence[Bullet]) -> str:
    return "\n".join(f"- {b.text}" for b in bullets)


def _size(bullets: Sequence[Bullet]) -> int:
    return estimate_tokens(_format_notes(bullets))


def _pack_notes(bullets: Sequence[Bullet], budget: int) -> list[list[Bullet]]:
    groups: list[list[Bullet]] = [[]]
    used = 0
    for bullet in bullets:
        cost = estimate_tokens(f"- {bullet.text}\n")
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(bullet)
        used += cost
    return groups


def _reduce_group(
    pipeline: Pipeline,
    passages: Sequence[Passage],
    group: Sequence[Bullet],
    bullets: int,
    summary: Summary,
) -> list[Bullet]:
    numbers = sorted({n for b in group for n in b.citations})
    local = {g: i + 1 for i, g in enumerate(numbers)}
    template = load_prompt("summarize_reduce", pipeline.settings.prompts_dir)
    prompt = template.format(notes=_format_notes(group), bullets=bullet_count(bullets))
    reply, cut = _invoke(pipeline, prompt, summary, bullets)
    out: list[Bullet] = []
    items = _complete(parse_bullets(reply), cut)
    removed: list[str] = []
    items = screened(
        items, [passages[g - 1] for g in numbers], template.template, removed,
        pipeline.settings.injection_guard,
    )
    summary.notes.extend(removed)
    for text in items:
        notes: list[str] = []
        # Markers must name chunks cited by the notes given; then check like a map bullet.
        as_local = renumber(text, local.get, notes)
        bullet = check_bullet(as_local, [passages[g - 1] for g in numbers], numbers, notes)
        summary.notes.extend(f"reduce: {note}" for note in notes)
        (out if bullet.supported else summary.dropped_bullets).append(bullet)
    return out


def _reduce(
    pipeline: Pipeline,
    passages: Sequence[Passage],
    items: list[Bullet],
    bullets: int,
    summary: Summary,
) -> list[Bullet]:
    overhead = estimate_tokens(
        load_prompt("summarize_reduce", pipeline.settings.prompts_dir).format(
            notes="", bullets=bullet_count(bullets)
        )
    )
    budget = token_budget(pipeline, overhead)
    for _ in range(MAX_REDUCE_ROUNDS):
        if not items:
            return []
        groups = _pack_notes(items, budget)
        if len(groups) == 1:
            return _reduce_group(pipeline, passages, groups[0], bullets, summary)
        # An intermediate round; a lone bullet has nothing to merge with and passes through.
        merged = [
            b
            for g in groups
            for b in (g if len(g) == 1 else _reduce_group(pipeline, passages, g, bullets, summary))
        ]
        if _size(merged) >= _size(items):
            break  # the model is not shortening the notes; stop instead of looping
        items = merged
    fitting = _pack_notes(items, budget)[0]
    summary.notes.append(
        f"{len(items) - len(fitting)} intermediate bullets did not fit the context window "
        "and were left out of the final merge"
    )
    return _reduce_group(pipeline, passages, fitting, bullets, summary)


# --- entry point --------------------------------------------------------------------------
def summarize(
    pipeline: Pipeline,
    sources: list[str] | None = None,
    bullets: int = 5,
    progress: ProgressFn | None = None,
) -> Summary:
    """Summarize all chunks of `sources` (default: everything indexed) into cited bullets."""
    if not 1 <= bullets <= MAX_BULLETS:
        raise SummaryError(f"bullets must be between 1 and {MAX_BULLETS}, got {bullets}")
    started = time.perf_counter()
    chosen = select_sources(pipeline.index, sources)
    passages = read_chunks(pipeline.index, chosen)
    if not passages:
        raise SummaryError(f"no chunks indexed for {', '.join(chosen)}; ingest them again")
    read_s = time.perf_counter() - started
    chat = pipeline.chat  # starts the embedded model server on first use
    summary = Summary(
        sources=sorted({p.source for p in passages}, key=chosen.index),
        bullets=[],
        citations=[],
        chunks_read=len(passages),
        model=chat.name,
    )
    summary.timings["read_s"] = round(read_s, 4)
    summary.timings["model_s"] = round(time.perf_counter() - started - read_s, 4)
    map_started = time.perf_counter()
    batches, shown, notes = plan_batches(
        passages, display_texts(passages), map_budget(pipeline, bullets), sections=bullets,
        guarded=pipeline.settings.injection_guard,
    )
    summary.notes.extend(notes)
    if pipeline.settings.injection_guard:
        summary.notes.extend(guard.withheld_notes(shown))
    summary.map_batches = len(batches)
    mapped = _map(pipeline, passages, batches, shown, bullets, summary, progress)
    summary.timings["map_s"] = round(time.perf_counter() - map_started, 4)
    final = mapped
    if len(mapped) > bullets:  # more batches than bullets: merge their bullets
        reduce_started = time.perf_counter()
        final = _reduce(pipeline, passages, mapped, bullets, summary)
        summary.timings["reduce_s"] = round(time.perf_counter() - reduce_started, 4)
    if len(final) > bullets:
        summary.notes.append(
            f"the model wrote {len(final)} bullets; kept {bullets} spread from first to last"
        )
        final = spread(final, bullets)
    for bullet in summary.dropped_bullets:
        summary.notes.append(f"dropped bullet without a valid citation: {bullet.text[:80]!r}")
    if not final:
        summary.notes.append("no bullet had a valid citation; the summary is empty")
    summary.bullets = final
    summary.citations = make_citations(passages, final)
    summary.timings["total_s"] = round(time.perf_counter() - started, 4)
    return summary


def summary_as_answer(pipeline: Pipeline, question: str) -> Answer:
    """Serve a chat message like "summarize the article" with a cited summary, shaped as an
    `Answer` so chat history, citation chips and exports treat it like any other reply."""
    known = [record.source for record in pipeline.index.sources()]
    summary = summarize(pipeline, requested_sources(question, known) or None)
    sentences = [Sentence(f"- {b.text}", b.citations, b.supported) for b in summary.bullets]
    return Answer(
        question=question,
        answer="\n".join(s.text for s in sentences),
        abstained=not summary.bullets,
        citations=summary.citations,
        model=summary.model,
        usage=dict(summary.usage),
        timings={
            "retrieve_s": summary.timings["read_s"],
            "first_token_s": None,
            "total_s": summary.timings["total_s"],
        },
        sentences=sentences,
        notes=[f"summary of {', '.join(summary.sources)} ({summary.chunks_read} chunks read)",
               *summary.notes],
    )
