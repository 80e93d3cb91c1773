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
