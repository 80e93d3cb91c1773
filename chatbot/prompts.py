"""Prompt templates live as files under `prompts/`; this loads them by name and fills them."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


class PromptError(ValueError):
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


def load_prompt(name: str, prompts_dir: Path = PROMPTS_DIR) -> Prompt:
    """Load `prompts/<name>.md`; the name may contain a sub-folder."""
    path = prompts_dir / f"{name}.md"
    if not path.is_file():
        available = sorted(p.stem for p in prompts_dir.glob("*.md"))
        raise PromptError(f"no prompt named {name!r} in {prompts_dir}; available: {available}")
    return Prompt(name=name, template=path.read_text(encoding="utf-8").strip() + "\n")
