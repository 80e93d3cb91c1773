from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chatbot.local_models import ModelError, assemble


def _parts(tmp_path: Path) -> list[Path]:
    parts = []
    for i, data in enumerate([b"abc", b"def", b"gh"]):
        part = tmp_path / f"part{i}.bin"
        part.write_bytes(data)
        parts.append(part)
    return parts


def test_assemble_verifies_and_reuses(tmp_path: Path) -> None:
    parts = _parts(tmp_path)
    sha = hashlib.sha256(b"abcdefgh").hexdigest()
    seen: list[tuple[int, int]] = []
    target = assemble(
        parts, tmp_path / "m" / "model.gguf", sha, 8, lambda d, t: seen.append((d, t))
    )
    assert target.read_bytes() == b"abcdefgh"
    assert seen[-1] == (8, 8)
    # Second call: the marker short-circuits, even without the parts.
    assert assemble([], target, sha, 8) == target


def test_assemble_refuses_a_hash_mismatch(tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    with pytest.raises(ModelError, match="refusing"):
        assemble(_parts(tmp_path), target, "0" * 64, 8)
    assert not target.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_assemble_refuses_a_size_mismatch(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="expected 9"):
        assemble(_parts(tmp_path), tmp_path / "model.gguf", "0" * 64, 9)


def test_tampered_model_is_reassembled(tmp_path: Path) -> None:
    parts = _parts(tmp_path)
    sha = hashlib.sha256(b"abcdefgh").hexdigest()
    target = assemble(parts, tmp_path / "model.gguf", sha, 8)
    target.write_bytes(b"abcdefgX")  # same size, new mtime: the marker no longer matches
    assert assemble(parts, target, sha, 8).read_bytes() == b"abcdefgh"
