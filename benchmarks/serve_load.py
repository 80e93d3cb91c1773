"""Load on `chatbot serve`: N concurrent clients on loopback, latency percentiles and 429s.

    .venv/bin/python benchmarks/serve_load.py [--clients 32] [--requests 4] [--stream]
        [--queue 8] [--token-delay 0] [--embedded [--gguf PATH]] [--json OUT]

Starts `chatbot serve` in a child process on a free loopback port (fake providers unless
--embedded; the seed article ingested into a throwaway data dir; --gguf reuses an assembled
model file instead of assembling one there), then runs
`--clients` threads that each send `--requests` chat completions with the official `openai`
client (no retries), all released at once. Every request ends as: ok (200, a cited answer),
429 (the queue was full: counted, not an error), or an error (anything else). Latencies are
wall clock per request, from send to the last byte, for the ok ones; with --stream also the
time to the first content chunk. On a shared machine, timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Which country does Xi visit before the SCO summit?",
    "In which year did Xi last travel to Kazakhstan?",
    "Who is the president of Kazakhstan?",
    "Where did Xi unveil the Silk Road Economic Belt?",
]
KEY = "load-test-key"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return round(ordered[rank - 1], 3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: argparse.Namespace, work: Path, port: int) -> subprocess.Popen[bytes]:
    provider = "local" if args.embedded else "fake"
    env = {
        **os.environ,
        "CHATBOT_LLM_PROVIDER": provider,
        "CHATBOT_EMBEDDINGS_PROVIDER": provider,
        "CHATBOT_DATA_DIR": str(work / "data"),
        "CHATBOT_API_KEY": KEY,
        "CHATBOT_SERVE_QUEUE": str(args.queue),
        "CHATBOT_FAKE_LLM_TOKEN_DELAY": str(args.token_delay),
        "CHATBOT_REQUEST_TIMEOUT": "1800",
        **({"CHATBOT_GGUF_PATH": str(args.gguf.resolve())} if args.gguf else {}),
    }
    chatbot = [sys.executable, "-m", "chatbot.cli"]
    shutil.copytree(ROOT / "seeds", work / "seeds")
    subprocess.run([*chatbot, "ingest", "--if-empty", "seeds"], env=env, cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    server = subprocess.Popen(
        [*chatbot, "serve", "--port", str(port)], env=env, cwd=work,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
        if server.poll() is not None:
            raise SystemExit("chatbot serve exited before it answered /health")
    server.terminate()
    raise SystemExit("chatbot serve did not answer /health in 600 s")


def one_request(client: openai.OpenAI, question: str, stream: bool) -> dict[str, Any]:
    started = time.perf_counter()
    first: float | None = None
    messages: Any = [{"role": "user", "content": question}]
    try:
        if stream:
            extra: dict[str, Any] = {}
            for chunk in client.chat.completions.create(
                model="chatbot", messages=messages, stream=True
            ):
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter() - started
                extra = chunk.model_extra or extra
            cited = bool(extra.get("chatbot", {}).get("citations"))
        else:
            completion = client.chat.completions.create(model="chatbot", messages=messages)
            cited = bool((completion.model_extra or {})["chatbot"]["citations"])
    except openai.RateLimitError:
        return {"outcome": "429"}
    except openai.APIError as exc:
        return {"outcome": "error", "detail": f"{type(exc).__name__}: {exc}"[:200]}
    return {
        "outcome": "ok", "cited": cited, "seconds": time.perf_counter() - started,
        "first_token_s": first,
    }


def run_clients(args: argparse.Namespace, url: str) -> tuple[list[dict[str, Any]], float]:
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.clients)

    def client_loop(number: int) -> None:
        client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=1800)
        barrier.wait()
        for i in range(args.requests):
            result = one_request(client, QUESTIONS[(number + i) % len(QUESTIONS)], args.stream)
            with lock:
                results.append(result)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def report(args: argparse.Namespace, results: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    ok = [r for r in results if r["outcome"] == "ok"]
    seconds = [r["seconds"] for r in ok]
    firsts = [r["first_token_s"] for r in ok if r.get("first_token_s") is not None]
    return {
        "provider": "local" if args.embedded else "fake",
        "clients": args.clients, "requests_per_client": args.requests, "stream": args.stream,
        "queue": args.queue, "token_delay_s": args.token_delay,
        "requests": len(results), "ok": len(ok), "cited": sum(1 for r in ok if r["cited"]),
        "rate_limited_429": sum(1 for r in results if r["outcome"] == "429"),
        "errors": [r["detail"] for r in results if r["outcome"] == "error"],
        "latency_s": {"p50": percentile(seconds, 50), "p99": percentile(seconds, 99),
                      "max": percentile(seconds, 100)},
        "first_token_s": {"p50": percentile(firsts, 50), "p99": percentile(firsts, 99)},
        "wall_s": round(wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--queue", type=int, default=8, help="CHATBOT_SERVE_QUEUE")
    parser.add_argument("--token-delay", type=float, default=0.0,
                        help="CHATBOT_FAKE_LLM_TOKEN_DELAY (fake provider only)")
    parser.add_argument("--embedded", action="store_true", help="the embedded models (slow)")
    parser.add_argument("--gguf", type=Path, help="an assembled GGUF (with --embedded)")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        port = free_port()
        server = start_server(args, Path(tmp), port)
        try:
            results, wall = run_clients(args, f"http://127.0.0.1:{port}/v1")
        finally:
            server.terminate()
            server.wait(30)
    summary = report(args, results, wall)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if not summary["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
