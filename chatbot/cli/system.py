"""`chatbot models`, `chatbot doctor`, `chatbot serve`, `chatbot ui`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from chatbot import Chatbot, Settings
from chatbot.cli.common import progress_bar
from chatbot.config import get_settings
from chatbot.terminal import console, line, out, plain


def cmd_models(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    if settings.gguf_path:
        report = bot.prepare_models()
    else:
        with progress_bar() as bar:
            task = bar.add_task("assemble GGUF", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done >> 20, total=total >> 20)

            report = bot.prepare_models(update)
    if args.json:
        out.print_json(data=report)
    else:
        for name, info in report.items():
            out.print(plain(name, "bold"))
            for key, value in info.items():
                out.print(plain(f"  {key}: {value}"))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Builds the settings itself: invalid settings are one of the things it reports."""
    from chatbot.doctor import healthy, run_doctor

    collection = getattr(args, "collection", None)  # checked like any other setting
    checks = run_doctor(lambda: get_settings(collection=collection))
    if args.json:
        print(json.dumps({"healthy": healthy(checks), "checks": [c.to_json() for c in checks]}))
    else:
        labels = {"ok": ("ok  ", "green"), "note": ("note", "yellow"), "fail": ("FAIL", "red")}
        for check in checks:
            fix = ("", " — fix: ", plain(check.fix)) if check.fix else ("",)
            out.print(
                line(labels[check.status], " ", plain(check.name), ": ", plain(check.detail), *fix)
            )
        verdict = "ready for `make chat`" if healthy(checks) else "not ready: fix the FAIL lines"
        out.print(verdict, markup=False)
    return 0 if healthy(checks) else 1


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from chatbot.server import serve

    host = args.host or settings.serve_host
    port = args.port or settings.serve_port
    bot = Chatbot(settings)
    url = f"http://{host}:{port}/v1"
    console.print(plain(f"chatbot API on {url} (model id: {settings.collection})"))
    serve(bot, host, port)
    return 0


def cmd_ui(settings: Settings, args: argparse.Namespace) -> int:
    app = Path(__file__).parent.parent / "app" / "main.py"
    env = {**os.environ, "CHATBOT_COLLECTION": settings.collection}  # the app's first choice
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(args.port), "--server.address", args.host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]
    console.print(plain(f"chatbot UI on http://{args.host}:{args.port}"))
    return subprocess.call(command, env=env)
