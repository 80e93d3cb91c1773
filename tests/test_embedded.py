"""The real embedded models (GGUF via xllamacpp, MiniLM ONNX) on the seed article. Slow."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot.answer import ask
from chatbot.config import Settings
from chatbot.local_models import GGUF_SHA256, OnnxMiniLMEmbeddings, ensure_gguf, file_sha256
from chatbot.pipeline import Pipeline

pytestmark = pytest.mark.slow
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ARTICLE = "seeds/xi-kazakhstan-visit.txt"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("embedded")
    shutil.copytree(SEEDS, root / "seeds")
    settings = Settings(
        llm_provider="local", embeddings_provider="local", data_dir=root / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        pipeline = Pipeline.build(settings)
        pipeline.index.ingest([Path("seeds")])
        yield pipeline


def test_assembled_gguf_has_the_official_hash(local: Pipeline) -> None:
    path = ensure_gguf(local.settings.data_dir)
    assert file_sha256(path) == GGUF_SHA256


def test_minilm_embeddings_are_normalised_and_semantic() -> None:
    embeddings = OnnxMiniLMEmbeddings()
    a, b, c = embeddings.embed_documents(
        ["The cat sat on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply."]
    )
    assert len(a) == 384
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    cos = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert cos(a, b) > cos(a, c) + 0.2
    assert embeddings.embed_query("The cat sat on the mat.") == pytest.approx(a, abs=1e-5)


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Which country does Xi visit before the SCO summit?", "Kazakhstan"),
        ("In which year did Xi last travel to Kazakhstan?", "2017"),
        ("Who is the president of Kazakhstan?", "Tokayev"),
    ],
)
def test_answerable_questions_cite_the_fact(local: Pipeline, question: str, fact: str) -> None:
    answer = ask(local, question)
    assert not answer.abstained, answer.notes
    assert fact in answer.answer
    assert any(fact in c.text and c.source == ARTICLE for c in answer.citations)
    document = local.index.document_text(ARTICLE)
    assert document is not None
    for citation in answer.citations:
        assert document[citation.start : citation.end] == citation.text


def test_unanswerable_question_abstains(local: Pipeline) -> None:
    answer = ask(local, "What is the population of Brazil?")
    assert answer.abstained
    assert answer.citations == []


# --- issue 13 item 12: the embedded server admits only this process, and only what it uses -----
def _get(url: str, key: str | None = None, post: bool = False) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=b"{}" if post else None)
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_embedded_server_needs_its_per_process_key_and_serves_no_extras(local: Pipeline) -> None:
    backend = local.chat
    (server,) = backend.resources
    root = server.base_url.removesuffix("/v1")
    key = server.api_key
    assert len(key) >= 32 and key not in repr(server)
    assert _get(f"{root}/v1/models") == 401  # anyone else on the machine
    assert _get(f"{root}/v1/models", "not-needed") == 401
    assert _get(f"{root}/v1/models", key) == 200
    for path in ("/slots", "/props", "/metrics", "/v1/chat/completions"):
        assert _get(f"{root}{path}") == 401, path
    for path in ("/slots", "/metrics"):
        assert _get(f"{root}{path}", key) == 501, path  # disabled even for us
    assert _get(f"{root}/props", key, post=True) == 501  # no changing server properties
    assert _get(f"{root}/slots/0?action=save", key, post=True) == 501
    assert _get(f"{root}/", key) == 404  # no web UI
    assert not ask(local, "Which country does Xi visit before the SCO summit?").abstained
