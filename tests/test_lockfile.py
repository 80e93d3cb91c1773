"""The locks: parsing refuses what a lock must not hold, the offline check catches a lock that
disagrees with pyproject.toml, and the installed-versus-pinned comparisons behave."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.lockfile import (
    Lock,
    LockError,
    Pin,
    broken_requirements,
    inputs_digest,
    parse_lock,
    pin_mismatches,
)

REPO = Path(__file__).resolve().parent.parent
HASH = "sha256:" + "a" * 64


def _lock_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_script", REPO / "scripts" / "lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_pin_with_hashes_and_a_marker() -> None:
    text = f"# via x\nfoo-Bar==1.2 ; sys_platform == 'win32' \\\n    --hash={HASH}\n    # via y\n"
    lock = parse_lock(text)
    assert lock.pins == (Pin("foo-bar", "1.2", (HASH,), 'sys_platform == "win32"'),)
    assert lock.applicable({"sys_platform": "linux"}) == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"foo>=1 --hash={HASH}", "not pinned"),
        ("foo==1", "no --hash"),
        (f"--index-url https://example.org/simple\nfoo==1 --hash={HASH}", "addresses"),
        (f"--find-links /opt/wheels\nfoo==1 --hash={HASH}", "addresses"),
        (f"-e .\nfoo==1 --hash={HASH}", "addresses"),
        (f"foo @ file:///tmp/foo.whl --hash={HASH}", "addresses"),
        (f"# from https://example.org\nfoo==1 --hash={HASH}", "addresses"),
    ],
)
def test_what_a_lock_must_not_hold(text: str, problem: str) -> None:
    with pytest.raises(LockError, match=problem):
        parse_lock(text)


names = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,5})?", fullmatch=True)
versions = st.lists(st.integers(0, 99), min_size=1, max_size=3).map(
    lambda parts: ".".join(map(str, parts))
)
hashes = st.lists(st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True), min_size=1, max_size=3)


@given(st.dictionaries(names, st.tuples(versions, hashes), max_size=6))
def test_a_rendered_lock_parses_back(pins: dict[str, tuple[str, list[str]]]) -> None:
    lines = ["# header"]
    for name, (version, digests) in pins.items():
        lines.append(f"{name}=={version} \\")
        lines += [f"    --hash={d} \\" for d in digests[:-1]] + [f"    --hash={digests[-1]}"]
        lines.append(f"    # via {name}")
    parsed = {p.name: (p.version, list(p.hashes)) for p in parse_lock("\n".join(lines)).pins}
    assert parsed == pins


def test_the_digest_ignores_spelling_but_not_content() -> None:
    assert inputs_digest(["Foo_Bar >=1.0", "baz"]) == inputs_digest(["baz", "foo-bar>=1.0"])
    assert inputs_digest(["foo>=1.0"]) != inputs_digest(["foo>=2.0"])
    assert inputs_digest(["sqlalchemy[asyncio]>=2"]) != inputs_digest(["sqlalchemy>=2"])


def test_the_committed_locks_match_pyproject() -> None:
    assert _lock_script().check_all(REPO) == []


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    (tmp_path / "requirements").mkdir()
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    for name in ("tools.in", "tools.lock", "runtime.lock", "test.lock", "bench.lock", "ocr.lock"):
        shutil.copy(REPO / "requirements" / name, tmp_path / "requirements" / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_dependency_added_to_pyproject_only_fails_the_check(repo_copy: Path) -> None:
    _edit(repo_copy / "pyproject.toml", '"rich>=13",', '"rich>=13",\n    "leftpad-unlocked>=1",')
    problems = _lock_script().check_all(repo_copy)
    assert any("leftpad-unlocked is required but not in the lock" in p for p in problems)
    assert any("runtime.lock: made from other requirements" in p for p in problems)


def test_a_stale_pin_fails_the_check(repo_copy: Path) -> None:
    _edit(repo_copy / "pyproject.toml", '"rich>=13",', '"rich>=999",')
    problems = _lock_script().check_all(repo_copy)
    assert any("rich==" in p and "refuses" in p for p in problems)


def test_a_test_lock_that_disagrees_with_the_runtime_pins_fails(repo_copy: Path) -> None:
    lock = repo_copy / "requirements" / "test.lock"
    pin = next(p for p in parse_lock(lock.read_text()).pins if p.name == "rich")
    _edit(lock, f"rich=={pin.version}", "rich==0.0.1")
    problems = _lock_script().check_all(repo_copy)
    assert any("test.lock: rich differs from the runtime pin" in p for p in problems)


def test_the_check_runs_in_ci_through_make_test() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "scripts/lock.py --check" in makefile and "pip check" in makefile
    assert "lint: install-test check-lock" in makefile


def test_pins_against_installed_versions() -> None:
    lock = Lock(
        (
            Pin("a", "1.0", (HASH,)),
            Pin("b", "2.0", (HASH,)),
            Pin("c", "3.0", (HASH,)),
            Pin("winonly", "1", (HASH,), 'sys_platform == "nonexistent"'),
        ),
        None,
    )
    problems = pin_mismatches(lock, {"a": "1.0", "b": "2.1"})
    assert problems == ["b is 2.1, the lock pins 2.0", "c==3.0 is not installed"]


def _dist(site: Path, name: str, version: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_broken_requirements_follow_extras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What pip check misses: `sqlalchemy[asyncio]` installed without greenlet."""
    _dist(tmp_path, "appx", "1.0", "engine-x[asyncio]>=2", "helper-x>=5")
    _dist(tmp_path, "engine-x", "2.1", 'greenlet-x>=1; extra == "asyncio"')
    _dist(tmp_path, "helper-x", "4.0")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    problems = broken_requirements("appx")
    assert problems == [
        "appx needs helper-x>=5, found 4.0",
        "greenlet-x is not installed (needed by engine-x)",
    ]


def test_this_environment_satisfies_chatbots_requirements() -> None:
    assert broken_requirements("chatbot") == []
