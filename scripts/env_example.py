"""Write `.env.example` from the Settings fields (run after adding a setting)."""

from __future__ import annotations

import sys
from pathlib import Path

from chatbot.config import render_env_example

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".env.example")
    target.write_text(render_env_example(), encoding="utf-8")
    print(f"wrote {target}")
