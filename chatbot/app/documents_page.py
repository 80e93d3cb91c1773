"""Documents page: upload and ingest files, list indexed sources, delete them, re-index, and
make a new collection."""

from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st

from chatbot import Chatbot, ChatbotError, IngestReport, NotFoundError, SourceRecord, Upload
from chatbot.app import app_state, views

STAGES = {
    "files": "Reading files",
    "embed": "Embedding chunks",
    "upgrade": "Upgrading documents to the current index (titles and headings)",
}


def _progress_bar() -> Callable[[str, int, int], None]:
    bar = st.progress(0.0, text="Starting…")

    def progress(stage: str, done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        bar.progress(min(fraction, 1.0), text=f"{STAGES.get(stage, stage)}: {done}/{total}")

    return progress


def _delete(bot: Chatbot, record: SourceRecord) -> None:
    """Button callback: drop a source from the index (and its uploaded copy, if any)."""
    source = record.source
    try:
        deleted = bot.remove(source)
    except NotFoundError:
        st.session_state["flash"] = f"{source} was already removed"  # escaped when shown
        return
    except ChatbotError as exc:  # busy index, store failure
        st.session_state["flash_error"] = str(exc)
        return
    st.session_state["flash"] = f"Removed {source} ({deleted} chunks)"


def render(bot: Chatbot) -> None:
    st.title("Documents")
    st.caption(f"Collection: {views.md_escape(bot.collection)}")
    flash = st.session_state.pop("flash", None)
    if flash:
        st.success(views.md_escape(flash))
    problem = st.session_state.pop("flash_error", None)
    if problem:
        st.error(views.md_escape(problem))
    _upload_section(bot)
    _report_section()
    _sources_section(bot)
    _new_collection_section(bot)


def _create(bot: Chatbot) -> None:
    """Button callback (it runs before the next run, so it may select the new collection)."""
    name = str(st.session_state.get("new_collection", "")).strip()
    try:
        info = bot.create_collection(name)
    except ChatbotError as exc:  # a bad or taken name, a busy index
        st.session_state["collection_error"] = str(exc)
        return
    st.session_state["collection"] = info.name
    st.session_state["new_collection"] = ""
    app_state.switch_collection()
    st.session_state["flash"] = f"Created the collection {info.name}; add files to it above"


def _new_collection_section(bot: Chatbot) -> None:
    st.subheader("New collection")
    st.caption(
        "A separate pile of documents with its own index; the sidebar switches between them."
    )
    name, action = st.columns([6, 1], vertical_alignment="bottom")
    name.text_input("Name", key="new_collection", help="3 to 63 characters: a-z, 0-9, . _ -")
    action.button("Create", key="create_collection", on_click=_create, args=(bot,))
    problem = st.session_state.pop("collection_error", None)
    if problem:
        st.error(views.md_escape(problem))


def _upload_section(bot: Chatbot) -> None:
    limit_mb = bot.settings.max_file_mb
    types = bot.UPLOAD_TYPES
    files = st.file_uploader(
        f"Add files ({', '.join('.' + t for t in types)}; up to {limit_mb:g} MiB each)",
        type=list(types),
        accept_multiple_files=True,
        max_upload_size=max(1, math.ceil(limit_mb)),
        key=f"uploader-{st.session_state['uploader_generation']}",
    )
    if not st.button("Upload and index", type="primary", disabled=not files):
        return
    uploads = [Upload(f.name, f.getvalue()) for f in files or []]
    try:
        report = bot.upload(uploads, _progress_bar())
    except ChatbotError as exc:  # busy index, store or embedding service failure
        st.error(views.md_escape(str(exc)))
        return
    st.session_state["ingest_report"] = report
    st.session_state["uploader_generation"] += 1
    st.rerun()


def _report_section() -> None:
    report: IngestReport | None = st.session_state.get("ingest_report")
    if report is None:
        return
    st.subheader("Last ingestion")
    st.caption(report.summary())
    for item in report.files:
        if item.status == "skipped":
            name, reason = views.md_escape(item.source), views.md_escape(item.reason)
            st.warning(f"Skipped **{name}**: {reason}")
        for note in item.notes:
            st.info(f"**{views.md_escape(item.source)}**: {views.md_escape(note)}")
    st.dataframe(
        [
            {
                "file": f.source, "status": f.status, "chunks": f.chunks,
                "reason": "; ".join([f.reason, *f.notes] if f.reason else f.notes),
            }
            for f in report.files
        ],
        hide_index=True,
        width="stretch",
    )


def _sources_section(bot: Chatbot) -> None:
    st.subheader("Indexed sources")
    rows = bot.sources()
    if not rows:
        st.info("No documents indexed yet.")
        return
    st.caption(f"{len(rows)} source(s), {sum(r.chunks for r in rows)} chunks")
    for row in rows:
        name, info, action = st.columns([6, 3, 1], vertical_alignment="center")
        name.markdown(f"**{views.md_escape(row.source)}**")
        info.caption(f"{row.chunks} chunks · {row.characters} characters · {row.indexed_time()}")
        action.button(
            "Delete",
            key=f"delete:{row.source}",
            on_click=_delete,
            args=(bot, row),
            help=f"Remove {views.md_escape(row.source)} from the index",
        )
    prune = st.checkbox("Also remove sources whose files are gone", value=False)
    if st.button("Re-index all sources"):
        try:
            report = bot.reindex(prune=prune, progress=_progress_bar())
        except ChatbotError as exc:
            st.error(views.md_escape(str(exc)))
            return
        st.session_state["ingest_report"] = report
        st.rerun()
