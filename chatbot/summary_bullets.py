"""A summary's bullets: parsed from a model reply, checked like an answer's sentences, and
renumbered from a batch's passage numbers to the global chunk numbers.

Every marker goes through `chatbot.markers` and every claim through the citation checker, so a
bullet keeps the model's words and only its markers change."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chatbot import guard, markers
from chatbot.citations import check, cite
from chatbot.models import Bullet, Citation, Passage

_BULLET = re.compile(r"^\s*(?:(?:[-*•+]|\d{1,2}[.)])\s+)+")


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


def screened(
    items: Sequence[str], passages: Sequence[Passage], prompt: str, notes: list[str],
    guarded: bool = True,
) -> list[str]:
    """Bullets after the injection post-check (`guard.screen_text`): no links, no echo of a
    planted instruction or of the prompt; a bullet left empty goes, with a note. Unchanged
    with the guard off (the measured baseline)."""
    if not guarded:
        return list(items)
    screen = guard.make_screen([p.text for p in passages], "", [prompt])
    kept = (guard.screen_text(item, screen, notes) for item in items)
    return [item for item in kept if item]
