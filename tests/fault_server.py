"""A fault-injecting OpenAI-compatible server for tests (standard library only).

It serves `POST /v1/chat/completions` (streaming SSE or not) and `POST /v1/embeddings`, and answers
each request with the next fault of a script: `FaultServer(["429", "ok"])` rate-limits the first
request and answers the second; the last entry repeats. Faults:

- `ok`: a normal completion (`reply`, streamed word by word when `stream` is requested), or
  deterministic 8-dimensional embeddings;
- `slow`: waits `slow_seconds` before answering (longer than the client's timeout);
- `429`: rate limited, with `Retry-After: <retry_after>`;
- `500`: internal server error;
- `reset`: streams a first token, then resets the TCP connection (RST) mid-stream;
- `malformed`: a 200 whose body (or first SSE event) is not JSON;
- `401`: the key is refused, and the error body quotes it back (as careless servers do).

`reply` may be a function of the request body (a server that answers each prompt its own way),
and `reject_response_format=True` makes it refuse any request carrying `response_format` with
HTTP 400, as servers without structured output do. `yes_probability=p` adds logprobs to a
non-streamed reply that asks for them, as llama.cpp and OpenAI do: at the reply's first
`true`/`false`/`yes`/`no` word, P(true) = p and P(false) = 1 - p among the top alternatives;
`reject_logprobs=True` refuses requests asking for logprobs with HTTP 400.

Every request is recorded (`requests`, with headers) so tests can count retries and check what
the client sent.
"""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("ok", "slow", "429", "500", "reset", "malformed", "401")


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    fault: str
    at: float = field(default_factory=time.monotonic)


class FaultServer:
    """Start with `with FaultServer([...]) as server:`; `server.base_url` ends in /v1."""

    def __init__(
        self,
        script: Sequence[str] = ("ok",),
        *,
        reply: str | Callable[[dict[str, Any]], str] = "The answer is in the documents [1].",
        reject_response_format: bool = False,
        yes_probability: float | None = None,
        reject_logprobs: bool = False,
        retry_after: float = 1,
        slow_seconds: float = 30,
    ) -> None:
        unknown = set(script) - set(FAULTS)
        if unknown or not script:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
        self.script = list(script)
        self.reply = reply
        self.reject_response_format = reject_response_format
        self.yes_probability = yes_probability
        self.reject_logprobs = reject_logprobs
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def text(self, body: dict[str, Any]) -> str:
        """The reply to a request."""
        return self.reply(body) if callable(self.reply) else self.reply

    def _next_fault(self) -> str:
        with self._lock:
            n = len(self.requests)
        return self.script[min(n, len(self.script) - 1)]

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                fault = server._next_fault()
                headers = {k.lower(): v for k, v in self.headers.items()}
                server._record(SeenRequest(self.path, headers, body, fault))
                route = self.path.rstrip("/").rsplit("/", 1)[-1]
                if route not in ("completions", "embeddings"):
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                elif route == "embeddings" and fault == "ok":
                    self._send_json(200, _embeddings(body))
                elif server.reject_response_format and "response_format" in body:
                    error = {"message": "response_format is not supported", "type": "invalid"}
                    self._send_json(400, {"error": error})
                elif server.reject_logprobs and body.get("logprobs"):
                    error = {"message": "logprobs are not supported", "type": "invalid"}
                    self._send_json(400, {"error": error})
                else:
                    getattr(self, "_fault_" + fault)(body)

            # --- faults -------------------------------------------------------------------
            def _fault_ok(self, body: dict[str, Any]) -> None:
                if body.get("stream"):
                    self._stream(server.text(body).split(" "), reset=False)
                else:
                    completion = _completion(body, server.text(body))
                    if body.get("logprobs") and server.yes_probability is not None:
                        choice = completion["choices"][0]
                        choice["logprobs"] = _verdict_logprobs(
                            choice["message"]["content"], server.yes_probability
                        )
                    self._send_json(200, completion)

            def _fault_slow(self, body: dict[str, Any]) -> None:
                deadline = time.monotonic() + server.slow_seconds
                while time.monotonic() < deadline and not server._stopping.is_set():
                    time.sleep(0.05)
                with _quiet():
                    self._fault_ok(body)

            def _fault_429(self, body: dict[str, Any]) -> None:
                error = {"error": {"message": "Rate limit reached", "type": "requests"}}
                self._send_json(429, error, {"Retry-After": f"{server.retry_after:g}"})

            def _fault_401(self, body: dict[str, Any]) -> None:
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                message = f"Incorrect API key provided: {key}"
                self._send_json(401, {"error": {"message": message, "type": "invalid_request"}})

            def _fault_500(self, body: dict[str, Any]) -> None:
                self._send_json(500, {"error": {"message": "boom", "type": "server_error"}})

            def _fault_reset(self, body: dict[str, Any]) -> None:
                words = server.text(body).split(" ")
                if body.get("stream"):
                    self._stream(words[:1], reset=True)
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"id": "chatcmpl-x", "choi')
                    self._reset()

            def _fault_malformed(self, body: dict[str, Any]) -> None:
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Content-Length", "30")
                    self.end_headers()
                    self.wfile.write(b"data: {not json at all!!\n\n".ljust(30))
                else:
                    payload = b"{this is not json"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            # --- helpers ------------------------------------------------------------------
            def _send_json(
                self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, words: list[str], *, reset: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for n, word in enumerate(words):
                    piece = word if n == 0 else " " + word
                    self._chunk(_sse(_delta_chunk(piece)))
                if reset:
                    self.wfile.flush()
                    time.sleep(0.05)
                    self._reset()
                    return
                self._chunk(_sse(_usage_chunk(len(words))))
                self._chunk(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _reset(self) -> None:
                """Close with SO_LINGER 0 so the peer sees a TCP RST, not an orderly close."""
                self.wfile.flush()
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """Clients that give up (timeouts) make the handler's writes fail; that is expected here."""

    def handle_error(self, request: object, client_address: object) -> None:
        return None


class _quiet:
    """Swallow the broken pipe of writing to a client that already gave up."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> bool:
        return exc_type is not None and issubclass(exc_type, OSError)


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    """A non-streamed completion; a reply longer than `max_completion_tokens` words is cut
    there with finish_reason "length", as a server stops at the limit."""
    words, limit = text.split(" "), body.get("max_completion_tokens")
    finish = "stop"
    if isinstance(limit, int) and len(words) > limit:
        text, finish = " ".join(words[:limit]), "length"
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fault-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _verdict_logprobs(text: str, p_yes: float) -> dict[str, Any]:
    """Logprobs for each word of `text`; at the first verdict word, true/false alternatives."""
    content = []
    for word in re.findall(r"\w+|\W+", text):
        entry: dict[str, Any] = {"token": word, "logprob": 0.0, "bytes": None, "top_logprobs": []}
        if word.lower() in ("true", "false", "yes", "no") and not any(
            c["top_logprobs"] for c in content
        ):
            alternatives = [("true", p_yes), ("false", 1.0 - p_yes)]
            entry["top_logprobs"] = [
                {"token": t, "logprob": math.log(p) if p > 0 else -1e9, "bytes": None}
                for t, p in alternatives
            ]
        content.append(entry)
    return {"content": content}


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """Deterministic 8-dimensional vectors (letter counts), enough for an index to work."""
    texts = body.get("input") or []
    texts = [texts] if isinstance(texts, str) else texts
    data = []
    for n, text in enumerate(texts):
        text = str(text).lower()
        vector = [float(sum(text.count(c) for c in group)) + 1 for group in _GROUPS]
        data.append({"object": "embedding", "index": n, "embedding": vector})
    usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
    return {"object": "list", "data": data, "model": body.get("model"), "usage": usage}


_GROUPS = ("ae", "io", "u", "st", "nr", "lm", "dh", "cgp")


def _delta_chunk(piece: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fault-model",
        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
    }


def _usage_chunk(words: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fault-model",
        "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words},
    }


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def main() -> None:
    """`python tests/fault_server.py FAULT...`: serve a script until Ctrl-C (manual checks)."""
    import sys

    with FaultServer(sys.argv[1:] or ["ok"]) as server:
        print(server.base_url, flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
