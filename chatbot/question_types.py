"""What kind of answer a question asks for, and the one-line reminder the answer prompt gets.

A 1.5B model reading the right passage still answers a "how many" question with a name from a
list, or a "when" question with a place (docs/benchmarks.md, Answers). Naming the kind of answer
wanted, next to the question, is cheap (a dozen prompt tokens) and works with any model. The
reminder texts are a prompt file (`question_hints.md`, one `kind: text` line each), so
CHATBOT_PROMPTS_DIR can change them; the question words that choose a kind stay here.
"""

from __future__ import annotations

import re
from pathlib import Path

from chatbot.prompts import load_prompt

_FIRST = r"^\W*(?:and |but |so |then |also )?"
#: (kind, pattern) in order: the first match wins ("how many years" is a number, not a date).
KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("number", re.compile(
        _FIRST + r"(how (many|much|long|far|old|big|large|high|tall|deep|wide|fast|often)\b"
        r"|what (number|percentage|percent|proportion|share|amount|fraction|size|age)\b)"
        r"|\b(how many|how much|what percentage)\b"
        r"|^\W*what (is|was|are|were) the (population|cost|price|distance|length|height|weight"
        r"|area|speed|temperature|budget|total|number)\b",
        re.I,
    )),
    ("date", re.compile(
        _FIRST + r"(when\b|(what|which|in what|in which|on what|on which) "
        r"(year|years|date|day|month|decade|century|time|period|season)\b)",
        re.I,
    )),
    ("person", re.compile(
        _FIRST + r"(who|whom|whose\b|(what|which) (player|team|person|man|woman|company|group"
        r"|organization|organisation|band|artist|writer|author|king|queen|emperor|president"
        r"|leader|scientist|general|university|school)\b)",
        re.I,
    )),
    ("place", re.compile(
        _FIRST + r"(where\b|(what|which|in what|in which) "
        r"(city|country|state|place|town|region|continent|location|county|province)\b)",
        re.I,
    )),
    # "Was it A or B?" asks for one of two things, not yes or no
    ("yesno", re.compile(
        _FIRST + r"(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\s"
        r"(?!.*\bor\b)",
        re.I,
    )),
)


def kind(question: str) -> str | None:
    """The kind of answer asked for (`number`, `date`, `person`, `place`, `yesno`), or None."""
    text = " ".join(question.split())
    for name, pattern in KINDS:
        if pattern.search(text):
            return name
    return None


def hints(prompts_dir: Path | None = None) -> dict[str, str]:
    """The reminder line per kind, from `question_hints.md` (`kind: text` per line)."""
    lines = load_prompt("question_hints", prompts_dir).template.splitlines()
    pairs = (line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))
    return {name.strip(): text.strip() for name, text in pairs if text.strip()}


def hint(question: str, prompts_dir: Path | None = None) -> str:
    """The reminder for this question, or "" when its kind is not recognised."""
    found = kind(question)
    return hints(prompts_dir).get(found, "") if found else ""
