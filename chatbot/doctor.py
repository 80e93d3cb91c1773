"""`chatbot doctor`: what works on this machine and what does not, each problem with its fix.

Every check returns a `Check` instead of raising, so one broken piece never hides the others.
`fail` means `make chat` cannot work until it is fixed; `note` is fine but worth knowing (the
model not assembled yet, no collection yet). Nothing here prints a secret: settings errors are
reported by field and message only (pydantic's own text quotes the input, API key included),
and every line is scrubbed of the configured secrets before it leaves `run_doctor`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from chatbot.config import Settings, env_name
from chatbot.loaders import EXTRACTOR_MODULES, REINSTALL, MissingDependencyError, require_extractor

Status = Literal["ok", "note", "fail"]
SettingsFactory = Callable[[], Settings]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def _fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


# --- the machine and the install -------------------------------------------------------------
def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] != (3, 11):  # older ones cannot install the package at all
        return Check("python", "note", f"Python {version}; the lock is tested on 3.11")
    return _ok("python", f"Python {version} at {sys.executable}")


def check_lock() -> Check:
    """Every pin of the bundled runtime lock installed at its version, and every installed
    requirement of chatbot (extras included) satisfied."""
    from chatbot.lockfile import (
        LockError,
        broken_requirements,
        installed_versions,
        parse_lock,
        pin_mismatches,
    )
    from chatbot.prompts import RESOURCES

    lock_file = RESOURCES / "runtime.lock"
    problems = broken_requirements("chatbot")
    detail = "the requirements of chatbot are installed"
    if lock_file.is_file():
        try:
            lock = parse_lock(lock_file.read_text(encoding="utf-8"), "runtime.lock")
        except LockError as exc:
            return _fail("lock", str(exc), "restore requirements/runtime.lock (git checkout)")
        problems += pin_mismatches(lock, installed_versions())
        detail = f"{len(lock.applicable())} pins of the runtime lock installed"
    if problems:
        more = f"; and {len(problems) - 3} more" if problems[3:] else ""
        return _fail("lock", "; ".join(problems[:3]) + more, REINSTALL)
    return _ok("lock", detail)


def check_extractors() -> Iterator[Check]:
    for kind in EXTRACTOR_MODULES:
        try:
            require_extractor(kind)
        except MissingDependencyError as exc:
            yield _fail(f"{kind} extractor", str(exc).split(";")[0], REINSTALL)
        else:
            yield _ok(f"{kind} extractor", ", ".join(EXTRACTOR_MODULES[kind]) + " import")


def check_ocr() -> Check:
    """OCR of scanned PDF pages is the optional `ocr` extra: its absence is a note."""
    from chatbot.ocr import INSTALL_OCR, status

    problem = status()
    if problem is None:
        return _ok("ocr", "rapidocr_onnxruntime imports: scanned PDF pages are OCR'd")
    fix = problem.split("; ", 1)[-1] if "; " in problem else INSTALL_OCR
    return Check("ocr", "note", problem.split("; ", 1)[0], fix)


# --- settings ------------------------------------------------------------------------------------
def check_settings(make: SettingsFactory) -> tuple[Check, Settings | None]:
    """Build the settings; on failure name each bad variable and pydantic's message, never the
    value (the error's own text includes the whole input, secrets too)."""
    from pydantic import ValidationError

    try:
        settings = make()
    except ValidationError as exc:
        fields = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = error["loc"]
            name = env_name(str(loc[0])) if loc and loc[0] in Settings.model_fields else "value"
            fields.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        where = ".env or the environment" if Path(".env").is_file() else "the environment"
        return _fail("settings", "; ".join(fields), f"fix these in {where}"), None
    env_file = "with .env" if Path(".env").is_file() else "no .env"
    detail = f"{env_file}; providers {settings.llm_provider}/{settings.embeddings_provider}"
    return _ok("settings", detail), settings


# --- models --------------------------------------------------------------------------------------
def check_gguf(settings: Settings) -> Check:
    """The bundled GGUF assembled with the right size and hash (or a user's own GGUF)."""
    from chatbot.local_models import (
        GGUF_NAME,
        GGUF_SHA256,
        GGUF_SIZE,
        ModelError,
        file_sha256,
        part_paths,
    )

    if settings.llm_provider != "local":
        return Check("model file", "note", f"not needed by the {settings.llm_provider} provider")
    if settings.gguf_path:
        return _own_gguf(settings.gguf_path)
    target = settings.data_dir / "models" / GGUF_NAME
    if not target.is_file():
        try:
            parts = part_paths()
        except ModelError as exc:
            return _fail("model file", str(exc).split(";")[0], REINSTALL)
        return Check(
            "model file", "note",
            f"not assembled yet ({len(parts)} slices installed); `chatbot models` assembles it",
        )
    size = target.stat().st_size
    fix = f"run `chatbot models` (it rebuilds {target} from the installed slices)"
    if size != GGUF_SIZE:
        return _fail("model file", f"{target} has {size} bytes, expected {GGUF_SIZE}", fix)
    digest = file_sha256(target)
    if digest != GGUF_SHA256:
        detail = f"{target} has sha256 {digest[:16]}…, expected {GGUF_SHA256}"
        return _fail("model file", detail, fix)
    return _ok("model file", f"{target} sha256 {GGUF_SHA256}")


def _own_gguf(path: Path) -> Check:
    fix = "point CHATBOT_GGUF_PATH at a GGUF file, or unset it for the bundled model"
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        return _fail("model file", f"CHATBOT_GGUF_PATH {path}: {exc.strerror or exc}", fix)
    if magic != b"GGUF":
        return _fail("model file", f"CHATBOT_GGUF_PATH {path} is not a GGUF file", fix)
    return _ok("model file", f"{path} (your own GGUF, hash not checked)")


def check_chat(settings: Settings, gguf: Check) -> Check:
    """A one-token request to the configured chat model."""
    from langchain_core.messages import HumanMessage

    from chatbot.providers import make_chat
    from chatbot.service_errors import model_errors

    if gguf.status != "ok" and settings.llm_provider == "local":
        return Check("chat model", "note", "not tried until the model file is ready")
    started = time.perf_counter()
    try:
        with model_errors(settings):
            backend = make_chat(settings)
            backend.model.bind(max_completion_tokens=1).invoke([HumanMessage("Say OK.")])
    except Exception as exc:  # every provider failure becomes a line of the report
        return _fail("chat model", _first_line(exc), _model_fix(settings))
    seconds = time.perf_counter() - started
    return _ok("chat model", f"{backend.name} ({backend.provider}) answered in {seconds:.1f} s")


def check_embeddings(settings: Settings) -> Check:
    from chatbot.providers import make_embeddings
    from chatbot.service_errors import model_errors

    started = time.perf_counter()
    try:
        with model_errors(settings, "embeddings"):
            vector = make_embeddings(settings).embed_query("doctor")
    except Exception as exc:  # every provider failure becomes a line of the report
        return _fail("embeddings", _first_line(exc), _model_fix(settings))
    seconds = time.perf_counter() - started
    detail = f"{settings.embedding_model}: {len(vector)} dimensions in {seconds:.1f} s"
    return _ok("embeddings", detail)


def _model_fix(settings: Settings) -> str:
    if settings.llm_provider == "local" or settings.embeddings_provider == "local":
        return f"run `chatbot models`; if it persists, {REINSTALL}"
    return "check OPENAI_API_KEY / OPENAI_BASE_URL and that the server is up"


# --- storage -------------------------------------------------------------------------------------
def check_data_dir(settings: Settings) -> Check:
    fix = "set CHATBOT_DATA_DIR to a folder you can write"
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return _fail("data dir", f"{settings.data_dir}: {exc.strerror or exc}", fix)
    return _ok("data dir", f"{settings.data_dir.resolve()} is writable")


def check_chroma(settings: Settings) -> tuple[Check, Any]:
    from chatbot.vectors import Vectors

    where = (
        f"Chroma server {settings.chroma_host}:{settings.chroma_port}"
        if settings.chroma_host
        else f"embedded Chroma under {settings.data_dir / 'chroma'}"
    )
    fix = "start it (`chroma run --path DIR`) or unset CHROMA_HOST for the embedded store"
    try:
        vectors = Vectors(settings)
        vectors.call(lambda client: client.heartbeat())
    except Exception as exc:  # an unreachable server raises whatever its transport raises
        return _fail("chroma", _first_line(exc).split("; ")[0], fix), None
    return _ok("chroma", f"{where} answers"), vectors


def check_collection(settings: Settings, vectors: Any) -> Check:
    """The collection's embedding model against the configured one (read-only: the records
    say which physical copy is active)."""
    from chatbot import records

    name = settings.collection
    db_path = settings.data_dir / "index.db"
    physical = None
    if db_path.is_file():
        with (
            contextlib.closing(records.connect(db_path)) as db,
            contextlib.suppress(sqlite3.Error),  # no schema yet
        ):
            physical = records.spaces(db, name)[0]
    collection = vectors.collection(physical) if physical else None
    if collection is None:
        return Check(
            "collection", "note", f"{name!r} does not exist yet; `chatbot ingest PATH` creates it"
        )
    built_with = collection.model
    if built_with and built_with != settings.embedding_model:
        return _fail(
            "collection",
            f"{name!r} was built with {built_with!r}, "
            f"CHATBOT_EMBEDDING_MODEL is {settings.embedding_model!r}",
            f"set CHATBOT_EMBEDDING_MODEL={built_with} or rebuild: chatbot ingest --rebuild PATH",
        )
    return _ok("collection", f"{name!r}: {collection.count()} chunks, {built_with}")


# --- the whole run -------------------------------------------------------------------------------
def run_doctor(make_settings: SettingsFactory) -> list[Check]:
    checks = [check_python(), check_lock(), *check_extractors(), check_ocr()]
    settings_check, settings = check_settings(make_settings)
    checks.append(settings_check)
    if settings is None:
        checks.append(Check("models and index", "note", "not checked until the settings are valid"))
    else:
        checks.append(check_data_dir(settings))
        gguf = check_gguf(settings)
        checks += [gguf, check_chat(settings, gguf), check_embeddings(settings)]
        chroma, vectors = check_chroma(settings)
        checks.append(chroma)
        if vectors is not None:
            checks.append(check_collection(settings, vectors))
    return [_scrubbed(check, _secrets()) for check in checks]


def _secrets() -> list[str]:
    """Secret values from the environment and `.env`, to be cut from any line we print."""
    from dotenv import dotenv_values

    values = dict(os.environ)
    if Path(".env").is_file():
        values.update({k: v or "" for k, v in dotenv_values(".env").items()})
    words = ("KEY", "TOKEN", "SECRET", "PASSWORD")
    return [v for k, v in values.items() if any(w in k.upper() for w in words) and len(v) >= 6]


def _scrubbed(check: Check, secrets: list[str]) -> Check:
    detail, fix = check.detail, check.fix
    for secret in secrets:
        detail, fix = detail.replace(secret, "***"), fix.replace(secret, "***")
    return Check(check.name, check.status, detail, fix)


def healthy(checks: list[Check]) -> bool:
    return all(check.status != "fail" for check in checks)
