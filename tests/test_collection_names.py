"""Collection names: ours are exactly Chroma's rules, capped at 63 characters (property test
against Chroma's own validation, in an embedded client)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatbot.config import collection_name_problem
from chatbot.index import new_physical

ALPHABET = "abcXYZ0129._-/ é:"
names = st.one_of(
    st.text(ALPHABET, max_size=70),
    st.lists(st.integers(0, 300), min_size=4, max_size=4).map(lambda n: ".".join(map(str, n))),
)


@pytest.fixture(scope="module")
def chroma() -> Iterator[Any]:
    with tempfile.TemporaryDirectory() as folder:
        yield chromadb.PersistentClient(
            path=folder, settings=ChromaSettings(anonymized_telemetry=False)
        )


def _chroma_accepts(client: Any, name: str) -> bool:
    try:
        client.create_collection(name, embedding_function=None)
    except Exception:
        return False
    client.delete_collection(name)
    return True


@settings(max_examples=150, deadline=None)
@given(name=names)
@example(name="a..b")
@example(name="10.0.0.1")
@example(name="999.0.0.1")
@example(name="a" * 63)
def test_a_name_is_accepted_exactly_when_chroma_accepts_it(chroma: Any, name: str) -> None:
    ours = collection_name_problem(name) is None
    if len(name) <= 63:
        assert ours == _chroma_accepts(chroma, name), name
    else:
        assert not ours
    if ours:  # and its rebuilt copies too, and it is one safe file-name component
        assert _chroma_accepts(chroma, new_physical(name))
        assert "/" not in name and name not in (".", "..")


def test_the_message_never_echoes_the_name() -> None:
    problem = collection_name_problem("<b>x</b>\x1b[2J")
    assert problem is not None and "<b>" not in problem and "\x1b" not in problem
