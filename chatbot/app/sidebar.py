"""Sidebar: page switcher, the collection, the model in use (read-only), per-tab k, retriever
and MMR, export."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot.app import app_state, exporting
from chatbot.collections import names
from chatbot.config import RETRIEVER_MODES, Settings

PAGES = ("Chat", "Documents", "Summaries", "Evaluation")


def _collection(settings: Settings) -> str:
    """The collection selector: every collection of the data dir, CHATBOT_COLLECTION first."""
    sidebar = st.sidebar
    options = [settings.collection, *(n for n in names(settings) if n != settings.collection)]
    if st.session_state.get("collection") not in options:  # deleted meanwhile, or first run
        st.session_state["collection"] = settings.collection
    chosen = sidebar.selectbox(
        "Collection", options, key="collection", on_change=app_state.switch_collection,
        help="A separate pile of documents with its own index: the Chat, Documents, "
        "Summaries and Evaluation pages use this one (`chatbot collections` lists them)",
    )
    return str(chosen)


def render(settings: Settings) -> tuple[str, DeltaGenerator, str]:
    """Draw the sidebar; returns the chosen page, a slot for the export buttons and the
    chosen collection."""
    sidebar = st.sidebar
    sidebar.title(":material/forum: chatbot")
    page = sidebar.radio("Page", PAGES, key="page", label_visibility="collapsed")
    collection = _collection(settings)
    sidebar.button(
        "New chat", on_click=app_state.new_chat, icon=":material/add_comment:",
        width="stretch",
        help="Forget this conversation (the documents stay indexed)",
    )
    sidebar.subheader("Settings")
    sidebar.text_input(
        "Chat model", f"{settings.chat_model} ({settings.llm_provider})", disabled=True,
        help="Set by CHATBOT_LLM_PROVIDER and CHATBOT_CHAT_MODEL (environment or .env)",
    )
    sidebar.text_input(
        "Embeddings", f"{settings.embedding_model} ({settings.embeddings_provider})",
        disabled=True,
        help="Set by CHATBOT_EMBEDDINGS_PROVIDER and CHATBOT_EMBEDDING_MODEL",
    )
    sidebar.slider(
        "Passages per answer (k)", 1, max(20, settings.k), settings.k, key="k",
        help="For this browser tab only; the default comes from CHATBOT_K",
    )
    sidebar.selectbox(
        "Retriever", RETRIEVER_MODES, index=RETRIEVER_MODES.index(settings.retriever),
        key="retriever",
        help="hybrid fuses vector and keyword search; for this browser tab only "
        "(default: CHATBOT_RETRIEVER)",
    )
    sidebar.toggle(
        "Diversify passages (MMR)", settings.mmr, key="mmr",
        help="Skip passages that repeat ones already picked; for this browser tab only "
        "(default: CHATBOT_MMR)",
    )
    sidebar.subheader("Export")
    return str(page), sidebar.container(), collection


def render_export(slot: DeltaGenerator) -> None:
    """Filled after the page ran, so the newest answer is part of the download."""
    answers = app_state.answers()
    with slot:
        if not answers:
            st.caption("Ask something first; the conversation can then be downloaded.")
        st.download_button(
            "Download Markdown", exporting.to_markdown(answers), file_name="conversation.md",
            mime="text/markdown", on_click="ignore", disabled=not answers,
            icon=":material/description:", width="stretch",
        )
        st.download_button(
            "Download JSON", exporting.to_json(answers), file_name="conversation.json",
            mime="application/json", on_click="ignore", disabled=not answers,
            icon=":material/data_object:", width="stretch",
        )
