"""Summaries page: pick sources and get a cited summary (`Chatbot.summarize`)."""

from __future__ import annotations

import streamlit as st

from chatbot import Chatbot, InvalidRequestError, Summary
from chatbot.app import app_state, views
from chatbot.app.chat_page import render_citations, render_guard_notes, show_service_banner


def render(bot: Chatbot) -> None:
    st.title("Summaries")
    sources = [record.source for record in bot.sources()]
    if not sources:
        st.info("No documents indexed yet: add files on the **Documents** page first.")
        return
    chosen = st.multiselect("Sources", sources, default=sources[:1], key="summary_sources")
    bullets = st.slider("Bullet points", 1, bot.max_bullets, 5)
    if st.button("Summarize", type="primary", disabled=not chosen):
        bar = st.progress(0.0, text="Summarizing…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=f"Summarizing: {done}/{total}")

        try:
            summary = bot.summarize(chosen, bullets, progress=progress)
        except InvalidRequestError as exc:
            st.error(views.md_escape(str(exc)))
            return
        except Exception as exc:
            problem = app_state.service_problem(exc)
            if problem is None:
                raise
            show_service_banner(problem)
            return
        finally:
            bar.empty()
        st.session_state["summary"] = summary
    if st.session_state["summary"] is not None:
        show(st.session_state["summary"], bot)


def show(summary: Summary, bot: Chatbot | None = None) -> None:
    """Bullets with citation chips (unsupported ones flagged), then the cited passages (with
    preview buttons when `bot` is given)."""
    st.subheader(", ".join(views.md_escape(s) for s in summary.sources))
    if summary.bullets:
        st.html(views.bullets_html(summary.bullets))
    else:
        st.warning("The summary is empty: no bullet had a valid citation.")
    render_guard_notes(summary.notes)
    render_citations(summary.citations, bot, "summary")
    usage, timings = summary.usage, summary.timings
    st.caption(
        f"{views.md_escape(summary.model)} · {summary.chunks_read} chunks read · "
        f"{usage.get('prompt_tokens', 0)} + {usage.get('completion_tokens', 0)} tokens · "
        f"total {timings.get('total_s', 0.0):.2f} s"
    )
    if summary.notes:
        st.caption(views.md_escape("; ".join(summary.notes)))
