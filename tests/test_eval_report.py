"""The evaluation report renderers: every string from a suite, a document or a model is escaped."""

from __future__ import annotations

from chatbot.eval_report import html_report, report_table


def test_html_report_escapes_everything() -> None:
    evil = "<script>alert(1)</script>"
    report = {
        "suite": evil,
        "passed": 0,
        "failed": 1,
        "model": evil,
        "embedding_model": "e",
        "seconds": 1.0,
        "cases": [
            {
                "id": evil,
                "task": "ask",
                "question": evil,
                "passed": False,
                "answer": evil,
                "abstained": False,
                "citations": [{"source": evil}],
                "timings": {"case_s": 1.0},
                "checks": [{"name": evil, "passed": False, "detail": evil}],
            }
        ],
    }
    page = html_report(report)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<svg" in page
    assert "src=" not in page and "href=" not in page  # self-contained: nothing fetched


def test_report_table_prints_markup_as_text() -> None:
    from rich.console import Console

    case = {"id": "[bold]c1[/bold]", "passed": False, "answer": "a",
            "timings": {"case_s": 0.5},
            "checks": [{"name": "contains", "passed": False, "detail": "missing ['[red]x']"}]}
    console = Console(record=True, width=200)
    console.print(report_table({"suite": "[link=http://e.vil]s[/link]", "cases": [case]}))
    out = console.export_text()
    assert "[bold]c1[/bold]" in out and "[red]x" in out and "[link=http://e.vil]s[/link]" in out
