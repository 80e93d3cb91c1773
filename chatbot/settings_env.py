"""The settings as the environment and the user see them: variable names, the text of
`.env.example`, and error messages that never quote a value (it may be the API key)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import AliasChoices, ValidationError

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo


def _fields() -> dict[str, FieldInfo]:
    # Imported late: chatbot.config re-exports this module's functions.
    from chatbot.config import Settings

    return Settings.model_fields


def describe_settings_error(exc: ValidationError) -> str:
    """One line per invalid setting, from pydantic's messages only: its `str()` quotes the whole
    input (the API key included), so no surface may show that."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(map(str, error["loc"]))
        message = str(error["msg"]).removeprefix("Value error, ")
        if field in _fields():
            parts.append(f"setting {env_name(field)}: {message}")
        else:
            parts.append(f"setting {field}: {message}" if field else f"settings: {message}")
    return "; ".join(parts) or "invalid settings"


ENV_HEADER = """\
# chatbot settings. Copy to .env and uncomment what you want to change.
# Every value shown is the default; empty means "chosen automatically" as described.
"""


def env_name(name: str) -> str:
    """The environment variable that sets field `name`."""
    alias = _fields()[name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"CHATBOT_{name.upper()}"


def render_env_example() -> str:
    """The text of `.env.example`: every field, its description and its default."""
    lines = [ENV_HEADER]
    for name, field in _fields().items():
        default = field.get_default(call_default_factory=True)
        if default is None:
            value = ""
        elif isinstance(default, list | dict | tuple):
            value = json.dumps(default)
        else:
            value = str(default)
        lines += [f"# {field.description}", f"# {env_name(name)}={value}", ""]
    return "\n".join(lines)
