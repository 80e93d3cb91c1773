"""`python -m chatbot.cli ...` (used by tests that run the command in another process)."""

from chatbot.cli import main

raise SystemExit(main())
