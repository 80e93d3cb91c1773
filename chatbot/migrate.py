"""Indexes written by the previous version: their chunk rows come back from Chroma.

That version kept each chunk's text and offsets only in Chroma (and a LangChain record manager
beside them) and derived the keyword side from there on every change. Its document rows stay as
they are (names included: a file keeps the name it was indexed under); the chunks, with their
ids, are read once into index.db and keyword-indexed, so nothing is embedded again.
"""

from __future__ import annotations

from collections.abc import Iterator

from chatbot.records import ChunkInsert
from chatbot.vectors import PAGE, Collection

#: A chunk row as `records.insert_chunks` takes it (that version had no context lines).
Row = ChunkInsert


def chunks_from_chroma(collection: Collection) -> list[Row]:
    return list(_rows(collection))


def _rows(collection: Collection) -> Iterator[Row]:
    total = collection.count()
    for offset in range(0, total, PAGE):
        got = collection.stored_page(offset, ["documents", "metadatas"])
        for key, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            meta = meta or {}
            if text is None or "source" not in meta:
                continue
            page = meta.get("page")
            yield (
                str(key), str(meta["source"]), int(meta["start"]), int(meta["end"]),
                int(meta.get("chunk_index", 0)), int(page) if page is not None else None, text,
                "", False, bool(meta.get("ocr", False)),
            )
