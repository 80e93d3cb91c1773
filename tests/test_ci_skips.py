"""tests/conftest.py: with CI=true a skip is a failure, so a broken install cannot hide as skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).resolve().parent / "conftest.py"
TESTS = """
import pytest

def test_skips():
    pytest.skip("optional thing missing")

@pytest.mark.xfail(strict=True)
def test_expected_failure():
    assert False
"""


def _run(folder: Path, ci: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder, env=env, capture_output=True, text=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_a_skip_fails_in_ci_only(tmp_path: Path) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(TESTS)
    assert _run(tmp_path, "true").startswith("1 failed, 1 xfailed")
    assert _run(tmp_path, None).startswith("1 skipped, 1 xfailed")
