"""The assertions of an evaluation case: one check per key of its `expect`, each with a
detail line for the report. Apart from `evaluate` (which loads suites and runs them) so a new
kind of check is added in one place, next to the others.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatbot.evaluate import Expect


def check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail}


def run_checks(expect: Expect, result: dict[str, Any]) -> list[dict[str, Any]]:
    """One check per key of `expect` against a case result (answer, abstained, citations,
    sentences, seconds)."""
    return [*_text_checks(expect, result["answer"]), *_answer_checks(expect, result)]


def _text_checks(expect: Expect, text: str) -> list[dict[str, Any]]:
    """What the answer's words must (not) contain."""
    lowered = text.lower()
    checks = []
    if expect.contains:
        missing = [s for s in expect.contains if s.lower() not in lowered]
        detail = f"missing {missing}" if missing else f"found all of {expect.contains}"
        checks.append(check("contains", not missing, detail))
    if expect.contains_any:
        found = [s for s in expect.contains_any if s.lower() in lowered]
        detail = f"found {found[0]!r}" if found else f"none of {expect.contains_any}"
        checks.append(check("contains_any", bool(found), detail))
    if expect.not_contains:
        present = [s for s in expect.not_contains if s.lower() in lowered]
        detail = f"found {present}" if present else f"none of {expect.not_contains}"
        checks.append(check("not_contains", not present, detail))
    if expect.regex is not None:
        match = re.search(expect.regex, text, re.IGNORECASE)
        detail = f"matched {match.group(0)!r}" if match else f"no match for /{expect.regex}/"
        checks.append(check("regex", match is not None, detail))
    return checks


def _answer_checks(expect: Expect, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Citations, abstention, support and time."""
    citations: list[dict[str, Any]] = result["citations"]
    checks = []
    if expect.cites is not None:
        has = bool(citations) and not result["abstained"]
        checks.append(check("cites", has == expect.cites, f"{len(citations)} valid citation(s)"))
    if expect.cites_source is not None:
        sources = sorted({str(c["source"]) for c in citations})
        hit = any(expect.cites_source.lower() in s.lower() for s in sources)
        detail = f"cited sources: {sources}" if sources else "no citations"
        checks.append(check("cites_source", hit, detail))
    if expect.abstains is not None:
        detail = "abstained" if result["abstained"] else "answered"
        checks.append(check("abstains", result["abstained"] == expect.abstains, detail))
    if expect.supported is not None:
        checks.append(_supported_check(expect.supported, result["sentences"]))
    if expect.max_seconds is not None:
        seconds = float(result["seconds"])
        detail = f"{seconds:.2f} s (limit {expect.max_seconds:g} s)"
        checks.append(check("max_seconds", seconds <= expect.max_seconds, detail))
    if expect.min_citations is not None:
        detail = f"{len(citations)} citation(s), need {expect.min_citations}"
        checks.append(check("min_citations", len(citations) >= expect.min_citations, detail))
    return checks


def _supported_check(expected: bool, sentences: list[dict[str, Any]]) -> dict[str, Any]:
    unsupported = [s["text"] for s in sentences if not s["supported"]]
    supported = bool(sentences) and not unsupported
    if not sentences:
        detail = "no sentences to support"
    elif unsupported:
        detail = f"{len(unsupported)} unsupported: {unsupported[0][:80]!r}"
    else:
        detail = f"all {len(sentences)} sentence(s) cited"
    return check("supported", supported == expected, detail)
