"""The hash-pinned locks under `requirements/`: read them, and compare them with `pyproject.toml`
and with what is installed.

A fresh machine must install exactly what CI tested, so every install goes through a lock, CI
checks the lock against `pyproject.toml` (offline: no registry is asked, so a new release never
turns CI red), and `chatbot doctor` checks the installed versions against the pins.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

#: The line `make lock` writes into each lock: a digest of the requirements it was made from.
DIGEST_PREFIX = "# inputs-sha256: "


class LockError(ValueError):
    """A lock file is malformed or holds something a lock must not (a URL, an unpinned line)."""


@dataclass(frozen=True)
class Pin:
    """One `name==version` line of a lock with its hashes and environment marker."""

    name: str
    version: str
    hashes: tuple[str, ...]
    marker: str = ""

    def applies(self, environment: dict[str, str] | None = None) -> bool:
        return not self.marker or Marker(self.marker).evaluate(environment)


@dataclass(frozen=True)
class Lock:
    pins: tuple[Pin, ...]
    digest: str | None

    def applicable(self, environment: dict[str, str] | None = None) -> dict[str, Pin]:
        """The pins for this interpreter and platform, by canonical name."""
        return {pin.name: pin for pin in self.pins if pin.applies(environment)}


_ADDRESS = re.compile(r"://|\bfile:|^\s*-(?!-hash)|--(index-url|extra-index-url|find-links|trusted-host)")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Requirement lines with their backslash continuations joined; comments kept apart."""
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        yield start, buffer + line
        buffer = ""
    if buffer:
        yield start, buffer


def parse_lock(text: str, where: str = "lock") -> Lock:
    """Pins of a lock in the requirements format; refuses addresses and unhashed lines."""
    pins: list[Pin] = []
    digest = None
    for number, line in _logical_lines(text):
        stripped = line.strip()
        if stripped.startswith(DIGEST_PREFIX):
            digest = stripped.removeprefix(DIGEST_PREFIX).strip()
        body = stripped.split(" #", 1)[0].strip() if not stripped.startswith("#") else ""
        if _ADDRESS.search(stripped if stripped.startswith("#") else body):
            raise LockError(f"{where}:{number}: a lock must not hold addresses or options: {body}")
        if not body:
            continue
        requirement, *hash_parts = body.split("--hash=")
        try:
            parsed = Requirement(requirement.strip())
        except InvalidRequirement as exc:
            raise LockError(f"{where}:{number}: not a requirement: {exc}") from None
        specs = list(parsed.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or parsed.url:
            raise LockError(f"{where}:{number}: {parsed.name} is not pinned with ==")
        hashes = tuple(h.strip() for h in hash_parts if h.strip())
        if not hashes:
            raise LockError(f"{where}:{number}: {parsed.name} has no --hash")
        marker = str(parsed.marker) if parsed.marker else ""
        pins.append(Pin(canonicalize_name(parsed.name), specs[0].version, hashes, marker))
    return Lock(tuple(pins), digest)


def read_lock(path: Path) -> Lock:
    return parse_lock(path.read_text(encoding="utf-8"), str(path))


# --- the inputs a lock is made from --------------------------------------------------------------
def normalized(requirements: Iterable[str]) -> list[str]:
    """Requirements in one canonical spelling and order, so reformatting changes nothing."""
    out = []
    for text in requirements:
        req = Requirement(text)
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        specifier = ",".join(sorted(str(s) for s in req.specifier))
        marker = f"; {req.marker}" if req.marker else ""
        out.append(f"{canonicalize_name(req.name)}{extras}{specifier}{marker}")
    return sorted(out)


def inputs_digest(requirements: Iterable[str]) -> str:
    return hashlib.sha256(json.dumps(normalized(requirements)).encode()).hexdigest()


# --- installed distributions ---------------------------------------------------------------------
def installed_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def pin_mismatches(lock: Lock, installed: dict[str, str]) -> list[str]:
    """Pins of this platform that are missing or installed at another version."""
    problems = []
    for name, pin in sorted(lock.applicable().items()):
        have = installed.get(name)
        if have is None:
            problems.append(f"{name}=={pin.version} is not installed")
        elif not _same_version(have, pin.version):
            problems.append(f"{name} is {have}, the lock pins {pin.version}")
    return problems


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _requires(dist: Any, extras: Iterable[str]) -> Iterator[Requirement]:
    """What `dist` needs for the given extras (and always its unconditional requirements)."""
    wanted = {""} | {canonicalize_name(e) for e in extras}
    for text in dist.requires or []:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted):
            yield req


def broken_requirements(root: str) -> list[str]:
    """`pip check` for `root` and everything it needs, extras included (pip check ignores
    extras: `sqlalchemy[asyncio]` without greenlet passed it)."""
    problems: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str], str]] = [(root, frozenset(), "")]
    while todo:
        name, extras, wanted_by = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            needed = f" (needed by {wanted_by})" if wanted_by else ""
            problems.append(f"{name} is not installed{needed}")
            continue
        for req in _requires(dist, extras):
            if req.specifier and not _version_ok(req, req.name):
                problems.append(
                    f"{dist.metadata['Name']} needs {req}, found "
                    f"{_version_of(req.name) or 'nothing'}"
                )
                continue
            todo.append((req.name, frozenset(req.extras), str(dist.metadata["Name"])))
    return sorted(set(problems))


def _version_of(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _version_ok(req: Requirement, name: str) -> bool:
    version = _version_of(name)
    return version is None or req.specifier.contains(version, prereleases=True)
