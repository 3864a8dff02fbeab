"""The web process's memory while it refuses huge webhook bodies.

    .venv/bin/python -m benchmarks.webhook_body [--megabytes 300]

Starts the real web process (``streamlit run app.py``, as tests/security/conftest.py's ``web_server``
does) on a free port with a throwaway SQLite database and a webhook secret. Then it POSTs
``--megabytes`` of body to /webhooks/stripe from a generator, twice: once with a Content-Length
header and once chunked. It reads the process's RSS (/proc/PID/status VmRSS) before, every 20 ms
during, and after each upload, and prints the growth. The route refuses bodies over 1 MB with 413
before reading them, so the growth must stay under ``MAX_GROWTH_MB``; the exit status says whether it did.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.web_sessions import rss_bytes

ROOT = Path(__file__).resolve().parent.parent
MAX_GROWTH_MB = 50.0
CHUNK_BYTES = 64 * 1024
SAMPLE_SECONDS = 0.02
MB = 1024 * 1024


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def web_process(data: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "ENVIRONMENT": "test", "DATA_DIR": str(data),
           "DATABASE_URL": f"sqlite:///{data / 'vorm.db'}", "STORAGE_BACKEND": "local",
           "STORAGE_DIR": str(data / "storage"), "VORM_SECRETS_FILE": "/nonexistent/secrets.toml",
           "STRIPE_WEBHOOK_SECRET": "whsec_benchmark_0123456789abcdef", "PYTHONUNBUFFERED": "1"}
    from tests.utils.processes import manage, start_web, stop, wait_healthy

    manage(env, "migrate")
    proc = start_web(port, env=env, log=data / "web.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, [proc], data)
        yield url, proc
    finally:
        stop([proc], timeout=15)


class PeakRss:
    """Samples a process's RSS in a thread while the block runs; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(SAMPLE_SECONDS)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def post_huge(url: str, total_bytes: int, *, chunked: bool) -> tuple[str, int, float]:
    """POST ``total_bytes`` from a generator; returns (status or error, bytes the server took, seconds)."""
    sent = 0
    block = b"x" * CHUNK_BYTES

    def body() -> Iterator[bytes]:
        nonlocal sent
        while sent < total_bytes:
            piece = block[: min(CHUNK_BYTES, total_bytes - sent)]
            sent += len(piece)
            yield piece

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}
    if not chunked:
        headers["Content-Length"] = str(total_bytes)
    started = time.perf_counter()
    try:
        conn.request("POST", "/webhooks/stripe", body=body(), headers=headers, encode_chunked=chunked)
        resp = conn.getresponse()
        resp.read()
        outcome = str(resp.status)
    except (BrokenPipeError, ConnectionResetError) as exc:  # the server may also close the connection
        outcome = type(exc).__name__
    finally:
        conn.close()
    return outcome, sent, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=300)
    args = parser.parse_args()
    total = args.megabytes * MB
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp, web_process(Path(tmp)) as (url, proc):
        time.sleep(1.0)  # let start-up allocations settle
        print(f"web process {proc.pid} on {url}; POSTing {args.megabytes} MB to /webhooks/stripe")  # noqa: T201
        for chunked in (False, True):
            before = rss_bytes(proc.pid)
            with PeakRss(proc.pid) as sampler:
                outcome, sent, seconds = post_huge(url, total, chunked=chunked)
                time.sleep(0.5)
            after = rss_bytes(proc.pid)
            growth = (max(sampler.peak, after) - before) / MB
            worst = max(worst, growth)
            how = "chunked       " if chunked else "Content-Length"
            print(f"{how}: answer {outcome}, {sent / MB:6.1f} MB sent in {seconds:5.1f} s; "  # noqa: T201
                  f"RSS before {before / MB:6.1f} MB, peak {sampler.peak / MB:6.1f} MB, "
                  f"after {after / MB:6.1f} MB, growth {growth:5.1f} MB")
    ok = worst < MAX_GROWTH_MB
    print(f"largest growth {worst:.1f} MB (limit {MAX_GROWTH_MB:.0f} MB): {'ok' if ok else 'TOO MUCH'}")  # noqa: T201
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
