"""Streamlit entry point, run by `chatbot ui`: settings, shared pipeline, sidebar, one page.

Settings come from the environment and `.env` like the CLI's; the pipeline is built once per
process and shared by every tab; each tab keeps its own conversation in session state.
"""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from chatbot.app import (
    app_state,
    chat_page,
    documents_page,
    evaluation_page,
    sidebar,
    summaries_page,
    views,
)
from chatbot.config import describe_settings_error, get_settings

ERROR_ICON = ":material/error:"


def main() -> None:
    st.set_page_config(page_title="chatbot", page_icon="💬", layout="wide")
    app_state.init_session()
    try:
        settings = get_settings()
    except ValidationError as exc:
        problem = describe_settings_error(exc)  # never str(exc): it quotes the API key
        st.error(f"The settings are invalid: {views.md_escape(problem)}", icon=ERROR_ICON)
        st.stop()
    page, export_slot = sidebar.render(settings)
    banner = st.container()
    problem = app_state.missing_key_problem(settings) or st.session_state["service_error"]
    if problem:
        with banner:
            chat_page.show_service_banner(problem)
    try:
        pipeline = app_state.get_pipeline(settings)
    except app_state.STARTUP_ERRORS as exc:
        st.error(
            f"**The index or the embeddings cannot be opened:** {views.md_escape(str(exc))}",
            icon=ERROR_ICON,
        )
        st.stop()
    if page == "Documents":
        documents_page.render(pipeline)
    elif page == "Summaries":
        summaries_page.render(pipeline)
    elif page == "Evaluation":
        evaluation_page.render(pipeline)
    else:
        chat_page.render(pipeline, banner, shown=problem)
    sidebar.render_export(export_slot)


main()
