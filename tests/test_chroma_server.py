"""The index against a real `chroma run` server on loopback (CHROMA_HOST/CHROMA_PORT)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ingest import sees_what_others_write

from chatbot.answer import ask
from chatbot.config import Settings
from chatbot.index import EmbeddingMismatchError, Index
from chatbot.ingest import rebuild
from chatbot.pipeline import Pipeline
from chatbot.providers import make_embeddings

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chromadb package installs the `chroma` command"
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("chroma server did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_ingest_and_ask_through_a_chroma_server(
    chroma_port: int, fake_settings: Settings, seed_dir: Path
) -> None:
    settings = fake_settings.with_overrides(chroma_host="127.0.0.1", chroma_port=chroma_port)
    pipeline = Pipeline.build(settings)
    assert not (settings.data_dir / "chroma").exists(), "no embedded Chroma when CHROMA_HOST is set"
    report = pipeline.index.ingest([Path("seeds")])
    assert report.count("added") == 1 and report.chunks_written > 0
    again = pipeline.index.ingest([Path("seeds")])
    assert again.chunks_written == 0
    answer = ask(pipeline, "Which country does Xi visit before the SCO summit?")
    assert "Kazakhstan" in answer.answer and answer.citations

    other = settings.with_overrides(embedding_model="another-model")
    with pytest.raises(EmbeddingMismatchError, match="--rebuild"):
        Index(other, make_embeddings(other))

    # A rebuild on the server: a new collection beside the old, then the switch.
    before = {c.name for c in pipeline.index.vectors.client().list_collections()}
    report = rebuild(pipeline.index, [Path("seeds")])
    assert report.count("added") == 1
    after = {c.name for c in pipeline.index.vectors.client().list_collections()}
    assert len(after) == len(before) and after != before  # the old one is gone
    answer = ask(pipeline, "Which country does Xi visit before the SCO summit?")
    assert "Kazakhstan" in answer.answer


def test_processes_sharing_a_server_and_a_data_dir_see_each_others_writes(
    chroma_port: int, fake_settings: Settings, seed_dir: Path, tmp_path: Path
) -> None:
    settings = fake_settings.with_overrides(
        chroma_host="127.0.0.1", chroma_port=chroma_port, collection="shared"
    )
    Pipeline.build(settings).index.ingest([Path("seeds")])
    sees_what_others_write(
        tmp_path, settings.data_dir, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_port),
        CHATBOT_COLLECTION="shared",
    )
    assert not (settings.data_dir / "chroma").exists()
