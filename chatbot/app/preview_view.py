"""The citation preview dialog: the PDF page with the supporting sentence highlighted, or the
passage in its surrounding text (built by chatbot/preview.py; this module only shows it)."""

from __future__ import annotations

import streamlit as st

from chatbot import Chatbot, ChatbotError, Citation
from chatbot.app import views


def button_label(citation: Citation) -> str:
    """"Show page 3" for a PDF citation (it has a page), "Show in the document" otherwise."""
    if citation.page:
        return f"Show page {citation.page} with the sentence highlighted"
    return "Show in the document"


def preview_button(bot: Chatbot, citation: Citation, key: str) -> None:
    """A button under a cited passage that opens its preview."""
    if st.button(button_label(citation), key=key, icon=":material/find_in_page:"):
        show_preview(bot, citation)


@st.dialog("Where the citation stands", width="large")
def show_preview(bot: Chatbot, citation: Citation) -> None:
    try:
        preview = bot.preview(citation)
    except ChatbotError as exc:
        st.error(views.md_escape(str(exc)))
        return
    where = f" · page {preview.page}" if preview.page else ""
    st.caption(f"**[{citation.n}]** {views.md_escape(preview.source)}{views.md_escape(where)}")
    if preview.message:
        st.warning(views.md_escape(preview.message), icon=":material/info:")
    if preview.png is not None:
        # For tests and scripts: how many boxes were drawn, and where they came from.
        st.html(views.preview_marker_html(preview))
        st.image(preview.png, width="stretch", output_format="PNG", alt=f"page {preview.page}")
        if preview.html:
            with st.expander("The passage in the indexed text"):
                st.html(views.preview_text_html(preview))
    elif preview.html:
        st.html(views.preview_text_html(preview))
