"""Streamlit entry point, run by `chatbot ui`: settings, shared chatbot, sidebar, one page.

Settings come from the environment and `.env` like the CLI's; the `Chatbot` is built once per
process and shared by every tab; each tab keeps its own conversation and its choice of
collection (the sidebar) in session state.
"""

from __future__ import annotations

import streamlit as st

from chatbot import Chatbot, ChatbotError, ConfigError, load_settings
from chatbot.app import (
    app_state,
    chat_page,
    documents_page,
    evaluation_page,
    sidebar,
    summaries_page,
    views,
)

ERROR_ICON = ":material/error:"


def main() -> None:
    st.set_page_config(page_title="chatbot", page_icon="💬", layout="wide")
    app_state.init_session()
    try:
        settings = load_settings()
    except ConfigError as exc:  # names the variable, never its value (it may be a key)
        st.error(f"The settings are invalid: {views.md_escape(str(exc))}", icon=ERROR_ICON)
        st.stop()
    page, export_slot, collection = sidebar.render(settings)
    banner = st.container()
    problem = Chatbot(settings).setup_problem() or st.session_state["service_error"]
    if problem:
        with banner:
            chat_page.show_service_banner(problem)
    try:
        bot = app_state.collection_bot(settings, collection)
    except ChatbotError as exc:
        st.error(
            f"**The collection {views.md_escape(collection)} or the embeddings cannot be "
            f"opened:** {views.md_escape(str(exc))}",
            icon=ERROR_ICON,
        )
        st.stop()
    if page == "Documents":
        documents_page.render(bot)
    elif page == "Summaries":
        summaries_page.render(bot)
    elif page == "Evaluation":
        evaluation_page.render(bot)
    else:
        chat_page.render(bot, banner, shown=problem)
    sidebar.render_export(export_slot)


main()
