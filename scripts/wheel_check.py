"""CI's install check: build the wheel, install it NON-editable into a clean venv from the runtime
lock only (no test extras, so a dependency that only a test tool brings in is caught), and use it
from a folder outside the repository on the fake providers:

- `chatbot ingest` one file of each supported format (.txt .md .html .pdf .docx): all added;
- `chatbot ask --json` answers from the HTML file, with a citation;
- `python -m chatbot doctor --json` reports a healthy install (pins == lock, extractors import);
- `chatbot eval` runs the bundled suite, whose seed article ships in the wheel.

Run with the project venv's Python (`make wheel-check`); uv comes from requirements/tools.lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = [
    ROOT / "tests/data/formats/ferry-notes.txt",
    ROOT / "tests/data/formats/garden-guide.md",
    ROOT / "tests/data/formats/observatory.html",
    ROOT / "tests/data/ingest/report.pdf",
    ROOT / "tests/data/ingest/memo.docx",
]
NOT_SOURCE = (".git", ".venv", ".chatbot", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
QUESTION = "How large is the primary mirror of the observatory telescope?"


class CheckFailed(Exception):
    pass


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    print(f"  {Path(command[0]).name} {' '.join(command[1:3])} … {seconds:.1f} s")
    if result.returncode != 0:
        raise CheckFailed(
            f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def build_and_install(tmp: Path) -> Path:
    """The wheel built with the locked setuptools, then a clean venv with the runtime lock and
    the wheel (no editable install, no repository on sys.path)."""
    source, dist, venv = tmp / "source", tmp / "dist", tmp / "venv"
    uv = str(Path(sys.executable).parent / "uv")
    # A copy, so the build's build/ and egg-info never land in the working tree; symlinks stay
    # links (resources/seeds -> ../../seeds) and the build copies what they point to.
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--quiet", "-w", str(dist), str(source)], cwd=tmp)
    wheel = next(dist.glob("chatbot-*.whl"))
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    python = str(venv / "bin" / "python")
    run([uv, "pip", "install", "--python", python, "--require-hashes", "--no-deps", "--quiet",
         "-r", str(ROOT / "requirements/runtime.lock")], cwd=tmp)
    run([uv, "pip", "install", "--python", python, "--no-deps", "--quiet", str(wheel)], cwd=tmp)
    return venv


def fake_env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("CHATBOT_", "OPENAI_", "CHROMA_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        CHATBOT_LLM_PROVIDER="fake", CHATBOT_EMBEDDINGS_PROVIDER="fake",
        CHATBOT_DATA_DIR=str(data_dir),
    )
    return env


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def use_the_install(venv: Path, work: Path) -> None:
    chatbot, python = str(venv / "bin" / "chatbot"), str(venv / "bin" / "python")
    env = fake_env(work / "data")
    where = run([python, "-c", "import chatbot; print(chatbot.__file__)"], work, env).strip()
    expect(where.startswith(str(venv)), f"chatbot imported from {where}, not the clean venv")
    docs = work / "docs"
    docs.mkdir()
    for fixture in FIXTURES:
        shutil.copy(fixture, docs / fixture.name)
    report = json.loads(run([chatbot, "ingest", "docs", "--json"], work, env))
    added = sorted(Path(f["source"]).suffix for f in report["files"] if f["status"] == "added")
    expect(added == [".docx", ".html", ".md", ".pdf", ".txt"], f"ingest added {report['files']}")
    answer = json.loads(run([chatbot, "ask", "--json", QUESTION], work, env))
    sources = [c["source"] for c in answer["citations"]]
    expect(bool(sources) and sources[0].endswith("observatory.html"), f"cited {sources}")
    cited = " ".join(c["text"] for c in answer["citations"])
    expect("2.4 metres" in cited, f"the citations miss the fact: {cited!r}")
    doctor = json.loads(run([python, "-m", "chatbot", "doctor", "--json"], work, env))
    bad = [c for c in doctor["checks"] if c["status"] == "fail"]
    expect(doctor["healthy"] and not bad, f"doctor: {bad}")
    suite_run = subprocess.run(
        [chatbot, "eval", "--json", "eval.json"], cwd=work, env=env, capture_output=True, text=True
    )
    expect(suite_run.returncode in (0, 1), f"bundled suite did not run: {suite_run.stderr}")
    suite: dict[str, Any] = json.loads((work / "eval.json").read_text(encoding="utf-8"))
    expect(suite["passed"] + suite["failed"] > 0, "the bundled suite ran no case")
    print(f"  bundled suite: {suite['passed']} passed, {suite['failed']} failed (fake model)")


def main() -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chatbot-wheel-") as name:
        tmp = Path(name)
        try:
            print("wheel check: build, install from the runtime lock, use outside the repo")
            venv = build_and_install(tmp)
            (tmp / "work").mkdir()
            use_the_install(venv, tmp / "work")
        except CheckFailed as exc:
            print(f"wheel check FAILED: {exc}", file=sys.stderr)
            return 1
    print(f"wheel check passed in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
