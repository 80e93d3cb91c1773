"""Pure functions that turn answers and citations into safe HTML and captions.

Document and model text is untrusted (a PDF can contain `<script>`), so every piece of it goes
through `html.escape` before the few tags added here (`<mark>`, citation chips) wrap it; the
result is rendered with `st.html`, which additionally sanitises with DOMPurify.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from chatbot import guard, markers
from chatbot.models import Answer, Citation

if TYPE_CHECKING:
    from chatbot.preview import Preview

#: Markdown syntax, plus what makes links without brackets: ":" (https://), "." (www.x) and
#: "@" (a@b.c, an e-mail autolink); escaping is invisible once rendered.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|<>~$:!.@&])")
#: URLs a reader may want as links (kept only when the user's own question contains them).
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\[\]()\"'`]+[^\s<>\[\]()\"'`.,;:!?]")

CHIP_STYLE = (
    "display:inline-block;min-width:1.3em;padding:0 .35em;margin-left:.15em;border-radius:.6em;"
    "font-size:.75em;line-height:1.5em;text-align:center;vertical-align:super;"
    "background:#e8eefc;color:#1f3a93;border:1px solid #b8c6f0"
)
UNSUPPORTED_STYLE = "background:#fff1d6;border-bottom:2px dotted #c27c0e"
PASSAGE_STYLE = (
    "white-space:pre-wrap;line-height:1.5;padding:.6em .8em;border-left:3px solid #b8c6f0;"
    "background:rgba(127,127,127,.06)"
)
MARK_STYLE = "background:#ffe168;color:#111;padding:0 .1em"


def md_escape(text: str) -> str:
    """Backslash-escape Markdown syntax so user-controlled text is shown literally: no link,
    image, autolink or HTML from a document or a model reply (character by character, so
    escaping streamed tokens one by one equals escaping their concatenation)."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")


def md_text(text: str, keep_links: Collection[str] = ()) -> str:
    """`md_escape`, except that URLs in `keep_links` (taken from the user's own question)
    stay clickable as `<url>` autolinks; any other URL is shown as text."""
    out: list[str] = []
    done = 0
    for match in _URL.finditer(text):
        if match.group(0) in keep_links:
            out += [md_escape(text[done : match.start()]), f"<{match.group(0)}>"]
            done = match.end()
    out.append(md_escape(text[done:]))
    return "".join(out)


def question_links(question: str) -> set[str]:
    """The URLs the user wrote in a question."""
    return set(_URL.findall(question))


def _chips(escaped: str) -> str:
    def chip(match: re.Match[str]) -> str:
        return "".join(
            f'<span class="chatbot-cite" style="{CHIP_STYLE}">{n}</span>'
            for n in markers.group_numbers(match.group(1))
        )

    return markers.MARKER.sub(chip, escaped)


def claim_html(text: str, supported: bool) -> str:
    """One sentence or bullet: escaped, markers as chips, flagged when nothing supports it."""
    body = _chips(html.escape(text))
    if supported:
        return body
    return (
        f'<span class="chatbot-unsupported" style="{UNSUPPORTED_STYLE}" '
        f'title="No passage supports this sentence">{body}</span>'
        ' <small class="chatbot-unsupported-flag">⚠ not supported by the documents</small>'
    )


def answer_html(answer: Answer) -> str:
    """The answer with `[n]` markers as chips and unsupported sentences visibly flagged."""
    if answer.abstained or not answer.sentences:
        body = html.escape(answer.answer)
    else:
        body = " ".join(claim_html(s.text, s.supported) for s in answer.sentences)
    return f'<div class="chatbot-answer" style="line-height:1.6">{body}</div>'


def bullets_html(bullets: Sequence[Any]) -> str:
    """Summary bullets (objects with `text` and `supported`) as a list, like answer sentences."""
    items = "".join(
        f"<li>{claim_html(str(b.text), bool(getattr(b, 'supported', True)))}</li>"
        for b in bullets
    )
    return f'<ul class="chatbot-summary" style="line-height:1.6">{items}</ul>'


def support_offsets(citation: Citation) -> tuple[int, int] | None:
    """The supporting sentence as offsets into `citation.text`, when it lies inside it."""
    start, end = citation.support_start, citation.support_end
    if start is None or end is None or not citation.start <= start < end <= citation.end:
        return None
    return start - citation.start, end - citation.start


def passage_html(citation: Citation) -> str:
    """The cited passage, escaped, with the supporting sentence in `<mark>`."""
    text = citation.text
    span = support_offsets(citation)
    if span is None:
        body = html.escape(text)
    else:
        a, b = span
        body = (
            html.escape(text[:a])
            + f'<mark class="chatbot-support" style="{MARK_STYLE}">'
            + html.escape(text[a:b])
            + "</mark>"
            + html.escape(text[b:])
        )
    return f'<div class="chatbot-passage" style="{PASSAGE_STYLE}">{body}</div>'


def preview_marker_html(preview: Preview) -> str:
    """An empty element whose data attributes say what a page preview drew (tests read it)."""
    return (
        f'<div class="chatbot-preview" data-page="{html.escape(str(preview.page))}" '
        f'data-boxes="{len(preview.boxes):d}" data-origin="{html.escape(preview.origin)}"></div>'
    )


def preview_text_html(preview: Preview) -> str:
    """The passage in its surrounding text, as `chatbot.preview.context_html` built it from
    escaped pieces (tests/test_hostile.py feeds that builder hostile documents)."""
    return preview.html


def location(citation: Citation) -> str:
    """Where the passage is: page (when known) and character offsets into the document."""
    where = f"page {citation.page}{' (OCR)' if citation.ocr else ''}, " if citation.page else ""
    return f"{where}characters {citation.start}–{citation.end}"


def citation_label(citation: Citation) -> str:
    """Expander label: number chip and source (Markdown-escaped: the name is user data)."""
    page = f" · p. {citation.page}" if citation.page else ""
    page += " · OCR" if citation.ocr else ""
    return f"**[{citation.n}]** {md_escape(citation.source)}{md_escape(page)}"


def caption(answer: Answer) -> str:
    """Model, tokens, time to first token and total time, for the small line under an answer."""
    usage, timings = answer.usage, answer.timings
    first = timings.get("first_token_s")
    first_text = f"{first:.2f} s" if first is not None else "—"
    parts = [
        answer.model,
        f"{usage.get('prompt_tokens', 0)} + {usage.get('completion_tokens', 0)} tokens",
        f"first token {first_text}",
        f"total {timings.get('total_s') or 0.0:.2f} s",
    ]
    if answer.cost_usd is not None:
        parts.append(f"≈ ${answer.cost_usd:.4f}")
    return " · ".join(parts)


def guard_notes(notes: Sequence[str]) -> list[str]:
    """The notes of the injection guard (what was removed or withheld, and why): always shown,
    whereas the other notes only explain an abstention."""
    return guard.shown_notes(notes)


def unsupported(answer: Answer) -> list[str]:
    return [s.text for s in answer.sentences if not s.supported]
