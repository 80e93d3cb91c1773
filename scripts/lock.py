"""The hash-pinned locks under requirements/: `make lock` regenerates them, CI checks them.

    tools.lock    uv itself (pinned in requirements/tools.in), installed by the bundled pip
    runtime.lock  [project.dependencies] + [build-system].requires: what `make chat` installs
    test.lock     the same plus the `test` extra, constrained to the runtime pins
    bench.lock    the same plus the `bench` extra (plots, the keyword-engine comparison)
    ocr.lock      the same plus the `ocr` extra (rapidocr-onnxruntime, opencv-python)

The test lock also holds the `ocr` extra, so `make test` and CI run the OCR tests.

`python scripts/lock.py` regenerates them with uv (existing pins are kept unless a changed
requirement needs another version; UPGRADE=1 moves everything to the newest releases). Each
lock records a digest of the requirements it was made from. `python scripts/lock.py --check`
verifies, offline and without asking a registry (so a new release never turns CI red), that
the locks still match pyproject.toml: same inputs, every direct requirement pinned to a version
it accepts, the test lock agreeing with the runtime pins, hashes everywhere and no addresses.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import NamedTuple

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chatbot.lockfile import DIGEST_PREFIX, Lock, LockError, inputs_digest, read_lock

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
PYTHON = "3.11"
#: Each lock beyond the runtime one and the extras it adds (the test lock runs the OCR tests).
LOCKED_EXTRAS: dict[str, tuple[str, ...]] = {
    "test": ("test", "ocr"),
    "bench": ("bench",),
    "ocr": ("ocr",),
}


class LockInput(NamedTuple):
    requirements: list[str]  # what the lock must satisfy (its digest covers exactly these)
    stdin: list[str]  # given to uv on stdin: what pyproject.toml does not list as a dependency
    arguments: list[str]  # uv's other sources and options


def lock_inputs(root: Path = ROOT) -> dict[str, LockInput]:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = list(project["project"]["dependencies"])
    build = list(project["build-system"]["requires"])
    extras = project["project"]["optional-dependencies"]
    tools = (root / "requirements" / "tools.in").read_text(encoding="utf-8").split("\n")
    tools = [line.split("#")[0].strip() for line in tools if line.split("#")[0].strip()]
    return {
        "tools": LockInput(tools, tools, []),
        "runtime": LockInput([*runtime, *build], build, ["pyproject.toml"]),
        **{
            name: LockInput(
                [*runtime, *(r for e in wanted for r in extras[e]), *build], build,
                ["pyproject.toml", *(a for e in wanted for a in ("--extra", e)),
                 "-c", "requirements/runtime.lock"],
            )
            for name, wanted in LOCKED_EXTRAS.items()
        },
    }


def compile_lock(name: str, spec: LockInput) -> None:
    target = LOCKS / f"{name}.lock"
    command = [
        str(Path(sys.executable).parent / "uv"), "pip", "compile", *spec.arguments, "-",
        "--generate-hashes", "--universal", "--python-version", PYTHON, "--no-config",
        "--custom-compile-command", "make lock", "--quiet", "-o", str(target),
    ]
    if os.environ.get("UPGRADE") == "1":
        command.append("--upgrade")
    stdin = "\n".join(spec.stdin) + "\n"
    subprocess.run(command, input=stdin, text=True, check=True, cwd=ROOT)
    lines = target.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines[:2] if line.startswith("#")]
    digest = f"{DIGEST_PREFIX}{inputs_digest(spec.requirements)}"
    target.write_text("\n".join([*header, digest, *lines[len(header):]]) + "\n", "utf-8")
    print(f"wrote {target.relative_to(ROOT)}")


# --- the offline check ---------------------------------------------------------------------
def check_lock(name: str, lock: Lock, requirements: list[str]) -> list[str]:
    where = f"requirements/{name}.lock"
    if lock.digest is None:
        return [f"{where}: no '{DIGEST_PREFIX.strip()}' line; it was not made by `make lock`"]
    problems = []
    if lock.digest != inputs_digest(requirements):
        problems.append(f"{where}: made from other requirements than pyproject.toml now lists")
    pins: dict[str, list[str]] = {}
    for pin in lock.pins:
        pins.setdefault(pin.name, []).append(pin.version)
    for text in requirements:
        req = Requirement(text)
        versions = pins.get(canonicalize_name(req.name))
        if not versions:
            problems.append(f"{where}: {req.name} is required but not in the lock")
        elif not any(req.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{where}: pins {req.name}=={versions[0]}, which {text!r} refuses")
    return problems


def check_all(root: Path = ROOT) -> list[str]:
    problems: list[str] = []
    locks: dict[str, Lock] = {}
    for name, (requirements, _, _) in lock_inputs(root).items():
        try:
            locks[name] = read_lock(root / "requirements" / f"{name}.lock")
        except (OSError, LockError) as exc:
            problems.append(str(exc))
            continue
        problems += check_lock(name, locks[name], requirements)
    for extra in LOCKED_EXTRAS:
        if "runtime" not in locks or extra not in locks:
            continue
        pinned = {(p.name, p.marker): p.version for p in locks[extra].pins}
        for pin in locks["runtime"].pins:
            if pinned.get((pin.name, pin.marker)) != pin.version:
                problems.append(
                    f"requirements/{extra}.lock: {pin.name} differs from the runtime pin "
                    f"{pin.version}: it would not run what ships"
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="verify offline, change nothing")
    args = parser.parse_args(argv)
    if not args.check:
        for name, spec in lock_inputs().items():
            compile_lock(name, spec)
    problems = check_all()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print("fix: run `make lock` and commit requirements/", file=sys.stderr)
        return 1
    print("locks match pyproject.toml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
