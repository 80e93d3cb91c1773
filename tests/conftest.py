"""Shared fixtures: settings on the fake providers in a temporary data dir, and a seeded index."""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from chatbot.config import Settings
from chatbot.pipeline import Pipeline

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DATA = Path(__file__).resolve().parent / "data"


# Tests check behaviour, not speed: no per-example deadline (a loaded 2-core machine takes
# hundreds of milliseconds for an example that usually takes ten).
hypothesis_settings.register_profile("chatbot", deadline=None)
hypothesis_settings.load_profile("chatbot")

#: Skips CI accepts (by test node id). None: a test may skip only for a missing optional
#: external thing (Chromium outside CI), and CI installs every such thing.
CI_ALLOWED_SKIPS: frozenset[str] = frozenset()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """With CI=true an unexpected skip is a failure: a skip must never hide a broken install."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        os.environ.get("CI", "").lower() == "true"
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.nodeid not in CI_ALLOWED_SKIPS
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where no test may skip (tests/conftest.py): {reason}"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep a developer's .env and OPENAI_* variables out of unit tests."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "CHROMA_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    return Settings(
        llm_provider="fake",
        embeddings_provider="fake",
        data_dir=tmp_path / "data",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    """A copy of seeds/ inside the working directory, so sources are `seeds/<file>`."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def seeded(fake_settings: Settings, seed_dir: Path) -> Iterator[Pipeline]:
    pipeline = Pipeline.build(fake_settings)
    pipeline.index.ingest([Path("seeds")])
    yield pipeline


@pytest.fixture
def seeded_dir(tmp_path: Path) -> Path:
    """A data dir with seeds/ (copied into the working directory) ingested by the fake
    providers, 300-character chunks, for tests that run `chatbot` in other processes."""
    shutil.copytree(SEEDS, tmp_path / "seeds")
    data_dir = tmp_path / "data"
    settings = Settings(
        llm_provider="fake", embeddings_provider="fake", data_dir=data_dir, chunk_size=300,
        chunk_overlap=0, _env_file=None,  # type: ignore[call-arg]
    )
    Pipeline.build(settings).index.ingest([Path("seeds")])
    return data_dir
