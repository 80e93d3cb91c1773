"""The embedded Chroma shared by processes: this process re-opens it only after another process
wrote to it, never after its own writes or reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_ingest import chatbot

from chatbot import vectors
from chatbot.config import Settings
from chatbot.pipeline import Pipeline

QUESTION = "Which country does Xi visit before the SCO summit?"


def test_the_store_is_reopened_only_after_another_process_wrote(
    fake_settings: Settings, seed_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    original = vectors._open_embedded

    def counting(path: Path) -> Any:
        opened.append(path)
        return original(path)

    monkeypatch.setattr(vectors, "_open_embedded", counting)
    pipeline = Pipeline.build(fake_settings)
    pipeline.index.ingest([Path("seeds")])
    for mode in ("dense", "bm25", "hybrid"):
        pipeline.retriever.retrieve(QUESTION, 3, mode)
    pipeline.index.ingest([Path("seeds")])
    assert len(opened) == 1  # its own writes and reads: the same opening throughout

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "bakery.txt").write_text("The bakery sells rye bread on Tuesdays.")
    result = chatbot(
        tmp_path, fake_settings.data_dir, "ingest", "other", CHATBOT_CHUNK_SIZE="700",
        CHATBOT_CHUNK_OVERLAP="120",
    )
    assert result.returncode == 0, result.stderr
    [top] = pipeline.retriever.retrieve("bakery rye bread Tuesdays", 1, "dense")
    assert top.source == "other/bakery.txt"
    pipeline.retriever.retrieve(QUESTION, 3, "hybrid")
    assert len(opened) == 2  # once, for the other process's write
