"""The conversation as a Markdown document (citations resolved to sources) or as JSON.

JSON keeps each answer exactly in the CLI's `--json` shape (`Answer.to_json()`), so an export
can be checked with the same tools as `chatbot ask --json`. In Markdown every piece of document
or model text is escaped (`views.md_text`): a planted `![](https://host/?q=...)` would otherwise
become a remote image request when the export is opened. Only URLs the user wrote in the
question stay clickable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence

from chatbot.app.views import (
    caption,
    location,
    md_escape,
    md_text,
    question_links,
    support_offsets,
    unsupported,
)
from chatbot.models import Answer


def _quote(text: str, keep_links: Collection[str]) -> str:
    return "\n".join(
        f"> {md_text(line, keep_links)}" if line else ">" for line in text.splitlines()
    )


def _answer_lines(number: int, answer: Answer) -> list[str]:
    links = question_links(answer.question)
    lines = [f"## {number}. {md_text(answer.question, links)}", ""]
    body = md_text(answer.answer, links)
    lines += [f"_No answer in the documents:_ {body}" if answer.abstained else body, ""]
    flagged = unsupported(answer)
    lines += [f"- ⚠ not supported by the documents: {md_text(s, links)}" for s in flagged]
    if flagged:
        lines.append("")
    if answer.citations:
        lines += ["Sources:", ""]
        for c in answer.citations:
            lines.append(f"\\[{c.n}\\] {md_escape(c.source)}, {location(c)}")
            span = support_offsets(c)
            quoted = c.text[span[0] : span[1]] if span else c.text
            lines += ["", _quote(quoted, links), ""]
    lines += [f"_{md_escape(caption(answer))}_", ""]
    return lines


def to_markdown(answers: Sequence[Answer], exported_at: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(exported_at or time.time()))
    lines = ["# Conversation", "", f"Exported {stamp}, {len(answers)} question(s).", ""]
    for number, answer in enumerate(answers, 1):
        lines += _answer_lines(number, answer)
    return "\n".join(lines).rstrip() + "\n"


def to_json(answers: Sequence[Answer], exported_at: float | None = None) -> str:
    data = {
        "exported_at": time.strftime(
            "%Y-%m-%dT%H:%M:%S%z", time.localtime(exported_at or time.time())
        ),
        "answers": [a.to_json() for a in answers],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)
