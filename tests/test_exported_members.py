"""The public API is exactly `chatbot.__all__`: adding or dropping a name is a decision."""

from __future__ import annotations

import importlib
from pathlib import Path

import chatbot

PUBLIC = [
    "Answer",
    "Bullet",
    "BusyError",
    "Chatbot",
    "ChatbotError",
    "Citation",
    "CollectionInfo",
    "ConfigError",
    "FileReport",
    "IngestReport",
    "InstallError",
    "InvalidRequestError",
    "ModelServiceError",
    "NotFoundError",
    "Sentence",
    "Settings",
    "SourceRecord",
    "StoreError",
    "Summary",
    "Turn",
    "Upload",
    "ask",
    "load_settings",
]


def test_all_is_pinned() -> None:
    assert chatbot.__all__ == PUBLIC


def test_every_exported_member_is_importable_and_public() -> None:
    """Also after every module of the package is imported: importing `chatbot.x` sets the
    attribute `x` of the package, which would hide an exported `x`."""
    for path in Path(chatbot.__file__).parent.glob("*.py"):
        if path.stem not in ("__init__", "__main__"):
            importlib.import_module(f"chatbot.{path.stem}")
    for name in chatbot.__all__:
        member = getattr(chatbot, name)
        assert member.__module__.startswith("chatbot"), name


def test_no_public_name_is_left_out_of_all() -> None:
    """Anything imported into `chatbot/__init__.py` besides submodules is listed."""
    names = {
        name for name, value in vars(chatbot).items()
        if not name.startswith("_") and not isinstance(value, type(chatbot))
        and getattr(value, "__module__", "").startswith("chatbot")
    }
    assert names == set(PUBLIC)


def test_every_error_is_a_chatbot_error() -> None:
    errors = [getattr(chatbot, n) for n in PUBLIC if n.endswith("Error")]
    assert all(issubclass(e, chatbot.ChatbotError) for e in errors)
