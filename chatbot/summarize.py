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

from chatbot import markers
from chatbot.answer import AnswerError, estimate_tokens, format_passages, passage_block
from chatbot.citations import check, cite
from chatbot.index import Index, UnknownSourceError
from chatbot.model_calls import invoke as invoke_model
from chatbot.models import Answer, Bullet, Citation, Passage, Sentence, Summary
from chatbot.pipeline import Pipeline
from chatbot.prompts import load_prompt

#: Called as progress(done, total) after each map batch.
ProgressFn = Callable[[int, int], None]

MAX_BULLETS = 20
#: Tokens kept free besides the answer, for the chat template's own wrapping.
MARGIN_TOKENS = 32
#: Below this many tokens for passages a batch cannot hold anything useful.
MIN_BUDGET_TOKENS = 64
MAX_REDUCE_ROUNDS = 4
#: Completion tokens allowed per requested bullet (a one-sentence bullet is 20-40 tokens).
TOKENS_PER_BULLET = 64

_REQUEST = re.compile(
    r"^\s*(?:please\s+|(?:can|could|would)\s+you\s+(?:please\s+)?)?"
    r"(?:summari[sz]e|sum\s+up|recap|tl;?\s*dr|give\s+(?:me\s+)?(?:a\s+|an\s+)?"
    r"(?:short\s+|brief\s+|quick\s+)?(?:summary|overview)|(?:a\s+)?summary\s+of)\b",
    re.I,
)
_BULLET = re.compile(r"^\s*(?:(?:[-*•+]|\d{1,2}[.)])\s+)+")


class SummaryError(AnswerError):
    """A user-facing failure of a summary (unknown source, empty index); says what to do."""


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


# --- batching -----------------------------------------------------------------------------
def bullet_count(n: int) -> str:
    """How prompts ask for bullets ("one bullet point", "3 bullet points")."""
    return "one bullet point" if n == 1 else f"{n} bullet points"


def map_budget(pipeline: Pipeline, bullets: int) -> int:
    """Tokens left for passages in a map prompt."""
    overhead = estimate_tokens(
        load_prompt("summarize_map", pipeline.settings.prompts_dir).format(
            passages="", bullets=bullet_count(bullets)
        )
    )
    return _budget(pipeline, overhead)


def _budget(pipeline: Pipeline, overhead: int) -> int:
    budget = (
        pipeline.chat.context_window
        - pipeline.settings.max_answer_tokens
        - overhead
        - MARGIN_TOKENS
    )
    if budget < MIN_BUDGET_TOKENS:
        raise SummaryError(
            f"the context window ({pipeline.chat.context_window} tokens) leaves no room for "
            f"passages after {pipeline.settings.max_answer_tokens} answer tokens; raise "
            "CHATBOT_LLM_CONTEXT or lower CHATBOT_MAX_ANSWER_TOKENS"
        )
    return budget


def plan_batches(
    passages: Sequence[Passage], texts: Sequence[str], budget: int, sections: int = 1
) -> tuple[list[list[int]], list[str], list[str]]:
    """Split chunk indexes (in order) into `sections` runs of about equal size, then split any
    run whose formatted passages exceed `budget` tokens.

    Sections exist because a small model asked for N bullets over a dozen passages writes one
    bullet per passage or loops; one bullet per section covers the document by construction.
    Returns the batches, the (possibly trimmed) display texts and notes; a single chunk larger
    than the budget is trimmed on its own, never dropped.
    """
    shown = list(texts)
    notes: list[str] = []
    costs = []
    for i, p in enumerate(passages):
        # Counted as if it opened a batch (with its source line), the worst case.
        cost = estimate_tokens(passage_block(i + 1, p, shown[i]) + "\n\n")
        if cost > budget:
            keep = max(len(shown[i]) - (cost - budget) * 3 - 3, 1)
            shown[i] = shown[i][:keep]
            cost = estimate_tokens(passage_block(i + 1, p, shown[i]) + "\n\n")
            notes.append(
                f"chunk [{i + 1}] of {p.source} was cut to {keep} characters to fit the "
                "context window"
            )
        costs.append(cost)
    total = sum(costs) or 1
    runs: list[list[int]] = []
    done = 0
    for i, cost in enumerate(costs):
        section = min(sections - 1, (2 * done + cost) * sections // (2 * total))  # by midpoint
        if len(runs) <= section:
            runs.append([])
        runs[-1].append(i)
        done += cost
    batches: list[list[int]] = []
    for run in runs:
        current: list[int] = []
        used = 0
        for i in run:
            if current and used + costs[i] > budget:
                batches.append(current)
                current, used = [], 0
            current.append(i)
            used += costs[i]
        batches.append(current)
    return batches, shown, notes


def shares(bullets: int, batches: int) -> list[int]:
    """Bullets to ask of each map batch: `bullets` in all, at least one each."""
    if batches >= bullets:
        return [1] * batches
    return [bullets // batches + (1 if i < bullets % batches else 0) for i in range(batches)]


# --- citations ----------------------------------------------------------------------------
def parse_bullets(reply: str) -> list[str]:
    """Bullet texts of a model reply; continuation lines join their bullet, and a reply without
    bullet marks counts one bullet per line. Headings (ending in ':') are skipped."""
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    marked = any(_BULLET.match(line) for line in lines)
    items: list[str] = []
    started = False
    for line in lines:
        if _BULLET.match(line):
            items.append(_BULLET.sub("", line, count=1).strip())
            started = True
        elif marked and started:
            items[-1] = f"{items[-1]} {line}"
        elif not marked:
            items.append(line)
    bullets = []
    for item in items:
        if not item or (item.endswith(":") and not markers.has_marker(item)):
            continue
        bullets.append(markers.lead_to_end(item))  # "[2] Text." -> "Text [2]."
    return bullets


def spread(items: Sequence[Bullet], n: int) -> list[Bullet]:
    """`n` items evenly spaced from first to last: a model that wrote one bullet per passage
    still gets a summary covering the beginning, middle and end."""
    if len(items) <= n:
        return list(items)
    if n == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def renumber(text: str, mapping: Callable[[int], int | None], notes: list[str]) -> str:
    """Rewrite every `[n, m]` marker through `mapping`; numbers mapped to None are removed."""

    def fix(numbers: list[int]) -> list[int]:
        kept: list[int] = []
        for n in numbers:
            new = mapping(n)
            if new is None:
                notes.append(f"removed citation [{n}]: not among the passages given")
            elif new not in kept:
                kept.append(new)
        return kept

    return markers.rewrite(text, fix)


def check_bullet(
    text: str, passages: Sequence[Passage], numbers: Sequence[int], notes: list[str]
) -> Bullet:
    """Check a bullet whose markers number `passages` from 1, like an answer's sentences
    (invalid markers removed, uncited sentences attributed or flagged), then renumber the
    markers to the global chunk numbers `numbers`."""
    checked = check(text, passages)
    notes.extend(checked.notes)
    cited = sorted({numbers[n - 1] for s in checked.sentences for n in s.citations})
    final = renumber(checked.text, lambda n: numbers[n - 1], notes).strip()
    return Bullet(text=final, citations=cited, supported=bool(cited))


def make_citations(passages: Sequence[Passage], bullets: Sequence[Bullet]) -> list[Citation]:
    """One citation per chunk cited by any bullet, with the sentence that best supports it."""
    claims: dict[int, list[str]] = {}
    for bullet in bullets:
        for n in bullet.citations:
            claims.setdefault(n, []).append(markers.strip(bullet.text))
    return cite(passages, claims)


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
    out: list[Bullet] = []
    if progress:
        progress(0, len(batches))
    targets = shares(bullets, len(batches))
    for number, (batch, share) in enumerate(zip(batches, targets, strict=True), 1):
        batch_passages = [passages[i] for i in batch]
        prompt = template.format(
            passages=format_passages(batch_passages, [shown[i] for i in batch]),
            bullets=bullet_count(share),
        )
        reply, cut = _invoke(pipeline, prompt, summary, share, one_line=share == 1)
        items = _complete(parse_bullets(reply), cut)
        if not items and share == 1:  # the first line was a preamble: ask again, whole reply
            reply, cut = _invoke(pipeline, prompt, summary, share)
            items = _complete(parse_bullets(reply), cut)
        notes: list[str] = []
        kept: list[Bullet] = []
        for text in items:
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
    prompt = load_prompt("summarize_reduce", pipeline.settings.prompts_dir).format(
        notes=_format_notes(group), bullets=bullet_count(bullets)
    )
    reply, cut = _invoke(pipeline, prompt, summary, bullets)
    out: list[Bullet] = []
    for text in _complete(parse_bullets(reply), cut):
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
    budget = _budget(pipeline, overhead)
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
        passages, display_texts(passages), map_budget(pipeline, bullets), sections=bullets
    )
    summary.notes.extend(notes)
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
