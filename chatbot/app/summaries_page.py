"""Summaries page: pick sources and get a cited summary (`chatbot.summarize`, loaded lazily)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatbot.answer import AnswerError
from chatbot.app import app_state, views
from chatbot.app.chat_page import render_citations, show_service_banner
from chatbot.app.optional import feature
from chatbot.models import Citation
from chatbot.pipeline import Pipeline


def render(pipeline: Pipeline) -> None:
    st.title("Summaries")
    module = feature("chatbot.summarize", "Summaries")
    if module is None:
        return
    sources = [record.source for record in pipeline.index.sources()]
    if not sources:
        st.info("No documents indexed yet: add files on the **Documents** page first.")
        return
    chosen = st.multiselect("Sources", sources, default=sources[:1], key="summary_sources")
    bullets = st.slider("Bullet points", 1, int(getattr(module, "MAX_BULLETS", 12)), 5)
    if st.button("Summarize", type="primary", disabled=not chosen):
        bar = st.progress(0.0, text="Summarizing…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=f"Summarizing: {done}/{total}")

        try:
            summary = module.summarize(pipeline, chosen, bullets, progress=progress)
        except AnswerError as exc:
            st.error(views.md_escape(str(exc)))
            return
        except Exception as exc:
            problem = app_state.service_problem(exc, pipeline.settings)
            if problem is None:
                raise
            show_service_banner(problem)
            return
        finally:
            bar.empty()
        st.session_state["summary"] = summary
    if st.session_state["summary"] is not None:
        show(st.session_state["summary"])


def show(summary: Any) -> None:
    """Bullets with citation chips (unsupported ones flagged), then the cited passages."""
    st.subheader(", ".join(views.md_escape(s) for s in getattr(summary, "sources", [])))
    bullets = list(getattr(summary, "bullets", []))
    if bullets:
        st.html(views.bullets_html(bullets))
    else:
        st.warning("The summary is empty: no bullet had a valid citation.")
    render_citations([c for c in getattr(summary, "citations", []) if isinstance(c, Citation)])
    usage = getattr(summary, "usage", {})
    timings = getattr(summary, "timings", {})
    st.caption(
        f"{views.md_escape(str(getattr(summary, 'model', '')))} · "
        f"{getattr(summary, 'chunks_read', 0)} chunks read · "
        f"{usage.get('prompt_tokens', 0)} + {usage.get('completion_tokens', 0)} tokens · "
        f"total {timings.get('total_s', 0.0):.2f} s"
    )
    notes = getattr(summary, "notes", [])
    if notes:
        st.caption(views.md_escape("; ".join(notes)))
