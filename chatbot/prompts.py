"""Prompt templates are files shipped inside the package (`chatbot/resources/prompts/`), loaded
with importlib.resources so a wheel install answers as well as a checkout does. A user may point
CHATBOT_PROMPTS_DIR at a folder of their own `<name>.md` files; a name missing there falls back to
the bundled prompt, so one prompt can be changed without copying the others.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from chatbot.errors import ConfigError

#: The bundled resources: prompts/, eval/ (suites), seeds/ (the suite's article), runtime.lock.
RESOURCES: Traversable = files("chatbot") / "resources"
PROMPTS_DIR: Traversable = RESOURCES / "prompts"
SUITES_DIR: Traversable = RESOURCES / "eval"
DEFAULT_SUITE: Traversable = SUITES_DIR / "seed.yaml"


class PromptError(ConfigError, ValueError):
    """A prompt file is missing or a placeholder was left unfilled."""


@dataclass(frozen=True)
class Prompt:
    """A template with `{name}` placeholders (str.format syntax)."""

    name: str
    template: str

    @property
    def placeholders(self) -> set[str]:
        return {
            field for _, field, _, _ in string.Formatter().parse(self.template) if field
        }

    def format(self, **values: str) -> str:
        missing = self.placeholders - values.keys()
        if missing:
            raise PromptError(f"prompt {self.name!r} needs values for: {sorted(missing)}")
        return self.template.format(**values)


def bundled_prompts() -> list[str]:
    names = (p.name for p in PROMPTS_DIR.iterdir())
    return sorted(n.removesuffix(".md") for n in names if n.endswith(".md"))


def load_prompt(name: str, prompts_dir: Path | None = None) -> Prompt:
    """`<name>.md` from `prompts_dir` (CHATBOT_PROMPTS_DIR) if it is there, else the bundled one."""
    candidates: list[Traversable] = [PROMPTS_DIR / f"{name}.md"]
    if prompts_dir is not None:
        candidates.insert(0, prompts_dir / f"{name}.md")
    for path in candidates:
        if path.is_file():
            return Prompt(name=name, template=path.read_text(encoding="utf-8").strip() + "\n")
    raise PromptError(f"no prompt named {name!r}; bundled prompts: {bundled_prompts()}")
