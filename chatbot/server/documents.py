"""Documents (list, upload, delete) and summaries over HTTP: the app's Documents and Summaries
pages as JSON, through the same `Chatbot` methods and so the same checks and limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from chatbot import InvalidRequestError, Upload
from chatbot.server.chat import ERRORS, state_of
from chatbot.server.schema import (
    DocumentDeleted,
    DocumentList,
    DocumentOut,
    IngestReportOut,
    SummaryOut,
    SummaryRequest,
)

router = APIRouter(responses=ERRORS)


@router.get("/v1/documents", response_model=DocumentList, summary="List indexed documents")
async def list_documents(request: Request) -> DocumentList:
    rows = await run_in_threadpool(state_of(request).bot.sources)
    return DocumentList(data=[DocumentOut(**row.to_json()) for row in rows])


@router.post(
    "/v1/documents",
    response_model=IngestReportOut,
    summary="Upload files and index them (multipart field `files`, repeatable)",
)
async def upload_documents(
    request: Request,
    files: Annotated[list[UploadFile], File(description="The files to index")],
) -> IngestReportOut:
    """Same rules as the app: accepted types, CHATBOT_MAX_FILE_MB, the load limits; a file
    that cannot be read is reported `skipped` with the reason, and never replaces an earlier
    upload of the same name."""
    bot = state_of(request).bot
    if len(files) > bot.settings.serve_max_files:
        raise InvalidRequestError(
            f"{len(files)} files in one request; the limit is {bot.settings.serve_max_files} "
            "(CHATBOT_SERVE_MAX_FILES)"
        )
    # One byte past the limit is enough to refuse a file as too large.
    cap = int(bot.settings.max_file_mb * 2**20) + 1
    uploads = [Upload(f.filename or "upload", await f.read(cap)) for f in files]
    report = await run_in_threadpool(bot.upload, uploads)
    return IngestReportOut.model_validate(report.to_json())


@router.delete(
    "/v1/documents/{source:path}",
    response_model=DocumentDeleted,
    summary="Remove an indexed document (and its uploaded copy)",
)
async def delete_document(source: str, request: Request) -> DocumentDeleted:
    deleted = await run_in_threadpool(state_of(request).bot.remove, source)
    return DocumentDeleted(id=source, chunks=deleted)


@router.post(
    "/v1/summaries", response_model=SummaryOut, summary="Cited summary of whole documents"
)
async def summarize(body: SummaryRequest, request: Request) -> SummaryOut:
    """Reads every chunk of the sources (default: all) through the model gate, like a chat
    request; it runs to the end even if the client leaves."""
    state = state_of(request)
    started = await state.gate.acquire()
    try:
        summary = await run_in_threadpool(state.bot.summarize, body.sources, body.bullets)
    finally:
        state.gate.release(started)
    return SummaryOut.model_validate(summary.to_json())
