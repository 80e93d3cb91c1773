"""Collections (list), documents (list, upload, delete) and summaries over HTTP: the app's
Documents and Summaries pages as JSON, through the same `Chatbot` methods and so the same
checks and limits. Each route takes the collection to use (`?collection=NAME`, or the
`collection` field of a summary request); without it, the server's default collection."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from chatbot import Chatbot, InvalidRequestError, Upload
from chatbot.server.chat import ERRORS, state_of
from chatbot.server.schema import (
    CollectionList,
    CollectionOut,
    DocumentDeleted,
    DocumentList,
    DocumentOut,
    IngestReportOut,
    SummaryOut,
    SummaryRequest,
)

router = APIRouter(responses=ERRORS)
#: The `?collection=` parameter of the document routes.
CollectionQuery = Annotated[
    str | None,
    Query(description="The collection (GET /v1/collections); default: the server's."),
]


async def _bot(request: Request, collection: str | None) -> Chatbot:
    return await run_in_threadpool(state_of(request).bot_for, collection)


@router.get(
    "/v1/collections", response_model=CollectionList,
    summary="List collections: name (also a model id), sources, chunks, embedding model",
)
async def list_collections(request: Request) -> CollectionList:
    bot = state_of(request).bot
    rows = await run_in_threadpool(bot.collections)
    return CollectionList(
        default=bot.collection, data=[CollectionOut(**row.to_json()) for row in rows]
    )


@router.get("/v1/documents", response_model=DocumentList, summary="List indexed documents")
async def list_documents(request: Request, collection: CollectionQuery = None) -> DocumentList:
    bot = await _bot(request, collection)
    rows = await run_in_threadpool(bot.sources)
    return DocumentList(data=[DocumentOut(**row.to_json()) for row in rows])


@router.post(
    "/v1/documents",
    response_model=IngestReportOut,
    summary="Upload files and index them (multipart field `files`, repeatable)",
)
async def upload_documents(
    request: Request,
    files: Annotated[list[UploadFile], File(description="The files to index")],
    collection: CollectionQuery = None,
) -> IngestReportOut:
    """Same rules as the app: accepted types, CHATBOT_MAX_FILE_MB, the load limits; a file
    that cannot be read is reported `skipped` with the reason, and never replaces an earlier
    upload of the same name. The collection must exist (`chatbot collections create`)."""
    bot = await _bot(request, collection)
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
async def delete_document(
    source: str, request: Request, collection: CollectionQuery = None
) -> DocumentDeleted:
    bot = await _bot(request, collection)
    deleted = await run_in_threadpool(bot.remove, source)
    return DocumentDeleted(id=source, chunks=deleted)


@router.post(
    "/v1/summaries", response_model=SummaryOut, summary="Cited summary of whole documents"
)
async def summarize(body: SummaryRequest, request: Request) -> SummaryOut:
    """Reads every chunk of the sources (default: all) through the model gate, like a chat
    request; it runs to the end even if the client leaves."""
    state = state_of(request)
    bot = await _bot(request, body.collection)
    started = await state.gate.acquire()
    try:
        summary = await run_in_threadpool(bot.summarize, body.sources, body.bullets)
    finally:
        state.gate.release(started)
    return SummaryOut.model_validate(summary.to_json())
