"""Evaluation page: run a bundled suite (`chatbot/resources/eval/`); show each case, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from chatbot import Chatbot, InvalidRequestError
from chatbot.app import app_state, views
from chatbot.app.chat_page import show_service_banner


def render(bot: Chatbot) -> None:
    st.title("Evaluation")
    suites = bot.bundled_suites()
    if not suites:
        st.info("No evaluation suite is bundled with this installation.")
        return
    suite = st.selectbox("Suite", suites, format_func=lambda p: p.name)
    use_index = st.checkbox(
        "Run against the current index instead of the suite's own documents", value=False
    )
    if st.button("Run suite", type="primary"):
        report = _run(bot, suite, use_index)
        if report is not None:
            st.session_state["eval_report"] = report
    report = st.session_state.get("eval_report")
    if report is not None:
        show(report)


def _run(bot: Chatbot, suite: Path, use_index: bool) -> dict[str, Any] | None:
    bar = st.progress(0.0, text="Indexing the suite's documents…")

    def progress(done: int, total: int, case: dict[str, Any]) -> None:
        bar.progress(done / total if total else 1.0, text=f"Cases: {done}/{total}")

    def ingest_progress(stage: str, done: int, total: int) -> None:
        bar.progress(0.0, text=f"Indexing the suite's documents ({stage} {done}/{total})")

    try:
        return bot.evaluate(
            suite,
            collection=bot.settings.collection if use_index else None,
            progress=progress,
            ingest_progress=ingest_progress,
        )
    except InvalidRequestError as exc:
        st.error(views.md_escape(str(exc)))
    except Exception as exc:
        problem = app_state.service_problem(exc)
        if problem is None:
            raise
        show_service_banner(problem)
    finally:
        bar.empty()
    return None


def show(report: dict[str, Any]) -> None:
    """Totals, one row per case, and charts of time per case and pass rate per check type."""
    cases: list[dict[str, Any]] = list(report.get("cases", []))
    passed, failed = int(report.get("passed", 0)), int(report.get("failed", 0))
    left, mid, right = st.columns(3)
    left.metric("Cases passed", f"{passed}/{passed + failed}")
    mid.metric("Model", str(report.get("model", "")))
    right.metric("Seconds", f"{float(report.get('seconds', 0.0)):.1f}")
    st.dataframe(
        [
            {
                "case": str(c.get("id")),
                "result": "pass" if c.get("passed") else "FAIL",
                "question": c.get("question") or c.get("task"),
                "answer": c.get("answer", ""),
                "failed checks": "; ".join(
                    f"{k['name']}: {k['detail']}" for k in c.get("checks", []) if not k["passed"]
                ),
                "seconds": float(c.get("timings", {}).get("case_s", 0.0)),
            }
            for c in cases
        ],
        hide_index=True,
        width="stretch",
    )
    rates: dict[str, list[int]] = {}
    for case in cases:
        for check in case.get("checks", []):
            counts = rates.setdefault(str(check["name"]), [0, 0])
            counts[0 if check["passed"] else 1] += 1
    if rates:
        st.subheader("Checks passed by type")
        st.bar_chart(
            {
                "passed": {name: ok for name, (ok, _) in rates.items()},
                "failed": {name: bad for name, (_, bad) in rates.items()},
            },
            color=["#2e7d32", "#c62828"],
        )
    if cases:
        st.subheader("Seconds per case")
        st.bar_chart(
            {str(c.get("id")): float(c.get("timings", {}).get("case_s", 0.0)) for c in cases}
        )
