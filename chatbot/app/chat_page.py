"""Chat page: streamed answers with numbered citations whose passages show the supporting text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot import Answer, Chatbot, Citation, InvalidRequestError, guard
from chatbot.app import app_state, preview_view, views


class _Tokens:
    """Feeds `st.write_stream` the text tokens and keeps the final `Answer` aside."""

    def __init__(self, items: Iterable[str | Answer]) -> None:
        self.items = items
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        for item in self.items:
            if isinstance(item, Answer):
                self.answer = item
            else:
                # Escaped token by token (escaping is per character, so the concatenation is
                # the escaped text): a document-planted ![](url) never renders while streaming.
                yield views.md_escape(item)


def render_citations(
    citations: Sequence[Citation], bot: Chatbot | None = None, key: str = ""
) -> None:
    """Each cited passage in an expander; with `bot`, a button opens its preview (`key`
    tells the buttons of different answers apart)."""
    for citation in citations:
        with st.expander(views.citation_label(citation)):
            st.caption(f"{views.md_escape(citation.source)} · {views.location(citation)}")
            st.html(views.passage_html(citation))
            if bot is not None:
                preview_view.preview_button(bot, citation, f"preview-{key}-{citation.n}")


def render_answer(answer: Answer, bot: Chatbot | None = None, key: str = "") -> None:
    """An answer as kept in the history: body, flags, citations (with preview buttons when
    `bot` is given) and the timing caption."""
    if answer.abstained:
        st.warning("No answer found in the documents.", icon=":material/search_off:")
    st.html(views.answer_html(answer))
    flagged = views.unsupported(answer)
    if flagged:
        st.warning(
            f"{len(flagged)} sentence(s) are not supported by the cited passages "
            "(highlighted above); check them before relying on them.",
            icon=":material/warning:",
        )
    render_guard_notes(answer.notes)
    render_citations(answer.citations, bot, key)
    st.caption(views.md_escape(views.caption(answer)))
    others = [n for n in answer.notes if not guard.is_note(n)]  # those are shown above
    if answer.abstained and others:
        st.caption(views.md_escape("; ".join(others)))


def render_guard_notes(notes: Sequence[str]) -> None:
    """What the injection guard removed or withheld, so nothing disappears silently."""
    flagged = views.guard_notes(notes)
    if flagged:
        st.warning(
            "Protected against instructions found in the documents:  \n"
            + "  \n".join(f"- {views.md_escape(n)}" for n in flagged),
            icon=":material/shield:",
        )


def _source_filter(bot: Chatbot) -> None:
    """Restrict retrieval to some documents (shown once there is more than one)."""
    indexed = [record.source for record in bot.sources()]
    # A source removed on the Documents page must leave the selection before the widget runs.
    chosen = [s for s in st.session_state.get("search_sources", []) if s in indexed]
    st.session_state["search_sources"] = chosen
    if len(indexed) > 1:
        st.multiselect(
            "Search only in", indexed, key="search_sources", placeholder="All documents",
            help="Answers use passages from these documents only; empty searches everything",
        )


def render(bot: Chatbot, banner: DeltaGenerator, shown: str | None = None) -> None:
    """The conversation so far, then the input; `banner` is the slot at the top of the page
    for service problems (`shown` is the one already in it, if any)."""
    st.title("Chat with your documents")
    st.caption(f"Collection: {views.md_escape(bot.collection)}")
    if bot.count() == 0:
        st.info("The index is empty: add files on the **Documents** page first.")
    _source_filter(bot)
    for position, answer in enumerate(app_state.answers()):
        with st.chat_message("user"):
            st.markdown(views.md_escape(answer.question))
        with st.chat_message("assistant"):
            render_answer(answer, bot, str(position))
    question = st.chat_input("Ask a question about your documents")
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(views.md_escape(question))
    with st.chat_message("assistant"):
        _answer(bot, question, banner, shown)


def _answer(bot: Chatbot, question: str, banner: DeltaGenerator, shown: str | None) -> None:
    notice = st.empty()  # retries and a slow service, shown while they happen
    placeholder = st.empty()

    def status(message: str) -> None:
        notice.info(views.md_escape(message), icon=":material/hourglass_top:")

    try:
        tokens = _Tokens(
            bot.reply(
                question,
                st.session_state["history"],
                k=st.session_state["k"],
                mode=st.session_state["retriever"],
                mmr=st.session_state["mmr"],
                sources=st.session_state["search_sources"] or None,
                status=status,
            )
        )
        with placeholder.container():
            st.write_stream(tokens)
    except InvalidRequestError as exc:
        placeholder.error(views.md_escape(str(exc)))
        return
    except Exception as exc:
        problem = app_state.service_problem(exc)
        if problem is None:
            raise
        st.session_state["service_error"] = problem
        placeholder.error(f"The question was not answered: {views.md_escape(problem)}")
        if shown is None:  # one banner is enough; the failed turn shows the details
            with banner:
                show_service_banner(problem)
        return
    finally:
        notice.empty()
    if tokens.answer is None:  # Chatbot.reply always ends with an Answer
        placeholder.error("the answer stage ended without an answer")
        return
    app_state.record(tokens.answer)
    with placeholder.container():  # keyed by its place in the history, as on the next run
        render_answer(tokens.answer, bot, str(len(app_state.answers()) - 1))


def show_service_banner(problem: str) -> None:
    st.error(
        f"**The model service is unavailable:** {views.md_escape(problem.rstrip('.'))}.  \n"
        "Your conversation is kept. Fix the setting in `.env` (or in the environment, then "
        "restart `chatbot ui`) and ask again.",
        icon=":material/error:",
    )
