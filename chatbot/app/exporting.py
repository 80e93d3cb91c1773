"""The conversation as a Markdown document (citations resolved to sources) or as JSON.

JSON keeps each answer exactly in the CLI's `--json` shape (`Answer.to_json()`), so an export
can be checked with the same tools as `chatbot ask --json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from chatbot.app.views import caption, location, support_offsets, unsupported
from chatbot.models import Answer


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def to_markdown(answers: Sequence[Answer], exported_at: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(exported_at or time.time()))
    lines = ["# Conversation", "", f"Exported {stamp}, {len(answers)} question(s).", ""]
    for number, answer in enumerate(answers, 1):
        lines += [f"## {number}. {answer.question}", ""]
        if answer.abstained:
            lines += [f"_No answer in the documents:_ {answer.answer}", ""]
        else:
            lines += [answer.answer, ""]
        for sentence in unsupported(answer):
            lines += [f"- ⚠ not supported by the documents: {sentence}"]
        if unsupported(answer):
            lines.append("")
        if answer.citations:
            lines += ["Sources:", ""]
            for c in answer.citations:
                lines.append(f"[{c.n}] {c.source}, {location(c)}")
                span = support_offsets(c)
                quoted = c.text[span[0] : span[1]] if span else c.text
                lines += ["", _quote(quoted), ""]
        lines += [f"_{caption(answer)}_", ""]
    return "\n".join(lines).rstrip() + "\n"


def to_json(answers: Sequence[Answer], exported_at: float | None = None) -> str:
    data = {
        "exported_at": time.strftime(
            "%Y-%m-%dT%H:%M:%S%z", time.localtime(exported_at or time.time())
        ),
        "answers": [a.to_json() for a in answers],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)
