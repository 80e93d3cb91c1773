"""Evaluation reports for people: a self-contained HTML page and a terminal table.

Every string in a report came from a document, a suite file or a model, so all of it is
escaped (HTML) or printed as plain text (Rich)."""

from __future__ import annotations

import html
from typing import Any

_PASS, _FAIL = "#2e7d32", "#c62828"


def _bar_chart(report: dict[str, Any]) -> str:
    """Inline SVG: one bar per case, its length the case's time, its colour pass or fail."""
    cases = report["cases"]
    longest = max((float(c["timings"].get("case_s", 0.0)) for c in cases), default=0.0) or 1.0
    row, label_w, bar_w = 22, 220, 420
    height = row * len(cases) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 80}" '
        f'height="{height}" role="img" aria-label="time and result per case">'
    ]
    for i, case in enumerate(cases):
        seconds = float(case["timings"].get("case_s", 0.0))
        y = i * row + 4
        width = max(2.0, bar_w * seconds / longest)
        colour = _PASS if case["passed"] else _FAIL
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{html.escape(str(case['id']))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{row - 6}" '
            f'fill="{colour}"><title>{html.escape(str(case["id"]))}: '
            f"{'pass' if case['passed'] else 'fail'}, {seconds:.2f} s</title></rect>"
            f'<text x="{label_w + width + 4:.1f}" y="{y + 14}" font-size="11">'
            f"{seconds:.{2 if seconds < 10 else 1}f} s</text>"
        )
    parts.append(
        f'<text x="{label_w}" y="{height - 6}" font-size="11" fill="#555">seconds per case '
        f"(green: passed, red: failed)</text></svg>"
    )
    return "".join(parts)


def _check_chart(report: dict[str, Any]) -> str:
    """Inline SVG: pass rate per assertion type (stacked passed / failed)."""
    totals: dict[str, list[int]] = {}
    for case in report["cases"]:
        for check in case["checks"]:
            counts = totals.setdefault(check["name"], [0, 0])
            counts[0 if check["passed"] else 1] += 1
    row, label_w, bar_w = 22, 140, 300
    height = row * len(totals) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
        f'height="{height}" role="img" aria-label="checks passed per assertion type">'
    ]
    for i, (name, (ok, bad)) in enumerate(sorted(totals.items())):
        y = i * row + 4
        good_w = bar_w * ok / (ok + bad)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{html.escape(name)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{good_w:.1f}" height="{row - 6}" '
            f'fill="{_PASS}"/>'
            f'<rect x="{label_w + good_w:.1f}" y="{y}" width="{bar_w - good_w:.1f}" '
            f'height="{row - 6}" fill="{_FAIL}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 14}" font-size="11">{ok}/{ok + bad}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def html_report(report: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no external files); all text is escaped."""
    e = html.escape
    rows = []
    for case in report["cases"]:
        checks = "".join(
            f'<li class="{"ok" if c["passed"] else "bad"}">{e(c["name"])}: {e(c["detail"])}</li>'
            for c in case["checks"]
        )
        sources = sorted({str(c["source"]) for c in case["citations"]})
        rows.append(
            f'<tr class="{"ok" if case["passed"] else "bad"}">'
            f"<td>{e(str(case['id']))}</td>"
            f"<td>{'PASS' if case['passed'] else 'FAIL'}</td>"
            f"<td>{e(case['question'] or case['task'])}</td>"
            f'<td class="answer">{e(case["answer"])}</td>'
            f"<td>{e(', '.join(sources))}</td>"
            f"<td><ul>{checks}</ul></td>"
            f"<td>{float(case['timings'].get('case_s', 0.0)):.2f}</td></tr>"
        )
    total = report["passed"] + report["failed"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(str(report["suite"]))}: evaluation report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }}
tr.bad td:nth-child(2) {{ color: {_FAIL}; font-weight: bold; }}
tr.ok td:nth-child(2) {{ color: {_PASS}; font-weight: bold; }}
li.bad {{ color: {_FAIL}; }} li.ok {{ color: {_PASS}; }}
td.answer {{ white-space: pre-wrap; max-width: 32em; }}
ul {{ margin: 0; padding-left: 1.2em; }}
</style></head><body>
<h1>Suite {e(str(report["suite"]))}</h1>
<p><strong>{report["passed"]}/{total}</strong> cases passed, {report["failed"]} failed;
model {e(str(report.get("model", "")))}, embeddings {e(str(report.get("embedding_model", "")))},
{e(str(report.get("seconds", "")))} s.</p>
<h2>Cases</h2>
{_bar_chart(report)}
<h2>Checks by type</h2>
{_check_chart(report)}
<h2>Details</h2>
<table><thead><tr><th>case</th><th>result</th><th>question</th><th>answer</th>
<th>cited sources</th><th>checks</th><th>s</th></tr></thead>
<tbody>
{"".join(rows)}
</tbody></table>
</body></html>
"""


def report_table(report: dict[str, Any]) -> Any:
    """A rich table: one row per case with its failed checks (or its answer when it passed)."""
    from rich.table import Table

    from chatbot.terminal import plain

    table = Table("case", "result", "s", "detail", title=plain(f"suite {report['suite']}"))
    table.columns[3].overflow = "fold"
    for case in report["cases"]:
        failed = [c for c in case["checks"] if not c["passed"]]
        if failed:
            detail = "; ".join(f"{c['name']}: {c['detail']}" for c in failed)
        else:
            detail = case["answer"].replace("\n", " ")[:100]
        table.add_row(
            plain(case["id"]),
            plain("pass", "green") if case["passed"] else plain("FAIL", "red"),
            f"{float(case['timings'].get('case_s', 0.0)):.1f}",
            plain(detail),
        )
    return table
