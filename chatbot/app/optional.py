"""Lazy imports of features that may not be installed in this checkout yet."""

from __future__ import annotations

import importlib
from types import ModuleType

import streamlit as st


def feature(module: str, what: str) -> ModuleType | None:
    """The module, or None after telling the user the feature is not available yet."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name not in (module, None):
            raise  # the feature exists but one of *its* imports is broken: show it
        st.info(f"{what} are not available yet in this version of chatbot.")
        return None
