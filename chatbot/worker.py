"""Run a function in a worker process with a time limit; the worker is killed when it is late.

A parser stuck in a hostile file cannot be interrupted from inside Python (a thread cannot be
stopped), but a process can. One worker (`python -m chatbot.worker`, so it never re-runs the
caller's main script the way multiprocessing's spawn does) is kept and reused: a folder of
documents pays the start-up once; after a timeout or a crash the next call starts a fresh one.
Calls and replies travel as pickles over two pipes; the worker's own stdout and stderr are
discarded (parsers print warnings).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

#: Seconds a new worker may take to start (not counted against any call's limit).
START_TIMEOUT_S = 120.0


class TimeLimitExceeded(RuntimeError):
    """The call did not finish in time; its worker was killed."""


class WorkerDied(RuntimeError):
    """The worker process ended during the call (crash, out of memory)."""


def _ready(stream: IO[bytes], seconds: float) -> bool:
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        return bool(selector.select(seconds))


class _Worker:
    def __init__(self) -> None:
        requests_r, requests_w = os.pipe()
        replies_r, replies_w = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatbot.worker", str(requests_r), str(replies_w)],
            pass_fds=(requests_r, replies_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        os.close(requests_r)
        os.close(replies_w)
        self.requests = os.fdopen(requests_w, "wb")
        self.replies = os.fdopen(replies_r, "rb")
        if not _ready(self.replies, START_TIMEOUT_S):
            self.kill()
            raise WorkerDied(f"the worker process did not start within {START_TIMEOUT_S:g} s")
        self._receive()

    def _receive(self) -> Any:
        try:
            kind, value = pickle.load(self.replies)
        except (EOFError, OSError, pickle.UnpicklingError):
            self.kill()
            code = self.process.poll()
            raise WorkerDied(f"the worker process ended (exit code {code})") from None
        if kind == "error":
            raise value
        return value

    def call(self, function: Callable[..., Any], args: tuple[Any, ...], seconds: float) -> Any:
        try:
            pickle.dump((function, args), self.requests)
            self.requests.flush()
        except OSError:
            self.kill()
            raise WorkerDied("the worker process is gone") from None
        if not _ready(self.replies, seconds):
            self.kill()
            raise TimeLimitExceeded(f"did not finish within {seconds:g} s")
        return self._receive()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                stream.close()


_lock = threading.Lock()
_worker: _Worker | None = None


def time_limited(function: Callable[..., Any], *args: Any, seconds: float) -> Any:
    """`function(*args)` in the worker process, within `seconds`; its exceptions are re-raised
    here. Raises TimeLimitExceeded or WorkerDied when the worker was late or crashed.
    `function` must be importable by name (a module-level function)."""
    global _worker
    with _lock:
        if _worker is None or _worker.process.poll() is not None:
            _worker = _Worker()
        try:
            return _worker.call(function, args, seconds)
        except (TimeLimitExceeded, WorkerDied):
            _worker = None
            raise


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The worker's loop: (function, args) in, ("ok", value) or ("error", exception) out."""
    pickle.dump(("ready", None), replies)
    replies.flush()
    while True:
        try:
            function, args = pickle.load(requests)
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("ok", function(*args))
        except BaseException as exc:  # handed to the caller, which decides
            reply = ("error", exc)
        try:
            data = pickle.dumps(reply)
        except Exception as exc:  # an unpicklable result or exception
            data = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
        replies.write(data)
        replies.flush()


if __name__ == "__main__":
    _serve(os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb"))
