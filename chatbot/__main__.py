"""`python -m chatbot ...` is the `chatbot` command (handy when the venv's bin/ is not on PATH)."""

from chatbot.cli import main

raise SystemExit(main())
