"""The public API on the real product: create-to-webhook latency, and GET /api/v1/jobs/{id} under 50 clients.

    python -m benchmarks.api [--jobs 5] [--clients 50] [--seconds 10] [--postgres]

Starts ``streamlit run app.py`` and ``python -m jobs.worker`` on a throwaway database (SQLite, or
PostgreSQL with --postgres), makes a premium account and key with ``core.manage``, registers a
webhook to a local receiver (WEBHOOKS_ALLOW_PRIVATE=1) and then:

- posts ``--jobs`` photos one after another (160 px ball, real engine at 192 px) and times each from
  the POST to the signed ``job.succeeded`` delivery arriving (verified with standardwebhooks);
- runs ``--clients`` concurrent clients for ``--seconds`` doing GET /api/v1/jobs/{id}, each request
  authenticated and counted against the shared rate limit (set high here so that it never refuses).

Prints p50/p95 of both, and requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _photo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 160), "white")
    ImageDraw.Draw(image).ellipse((40, 40, 120, 120), fill="red")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, deadline_s: float = 120.0) -> None:
    import httpx

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not become healthy")


def round_trips(base: str, headers: dict[str, str], jobs: int) -> tuple[list[float], int]:
    import httpx
    from standardwebhooks.webhooks import Webhook

    from tests.utils.webhook_receiver import Receiver

    receiver = Receiver().start()
    try:
        hook = httpx.post(f"{base}/webhooks", headers=headers, timeout=30,
                          json={"url": receiver.url, "event_types": ["job.succeeded", "job.failed"]}).json()
        seconds, last_id = [], 0
        photo = _photo()
        for _ in range(jobs):
            receiver.arrived.clear()
            count = len(receiver.received)
            start = time.perf_counter()
            job = httpx.post(f"{base}/jobs", headers=headers, timeout=60,
                             files=[("images", ("ball.png", photo, "image/png"))]).json()
            while len(receiver.received) == count:
                if not receiver.arrived.wait(300):
                    raise SystemExit("no webhook within 300 s")
                receiver.arrived.clear()
            seconds.append(time.perf_counter() - start)
            got = receiver.received[-1]
            event = Webhook(hook["secret"]).verify(got.body, got.headers)
            assert event["data"]["id"] == job["id"] and event["type"] == "job.succeeded", event
            last_id = job["id"]
        return seconds, last_id
    finally:
        receiver.stop()


async def _load(url: str, headers: dict[str, str], clients: int, seconds: float) -> tuple[list[float], int]:
    import httpx

    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits) as client:
        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < end:
                start = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200
        await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)

    from benchmarks.queue import create_database, drop_database  # the throwaway PostgreSQL database (VORM_BENCH_PG)

    base_dir = Path(tempfile.mkdtemp(prefix="vorm-bench-api-"))
    db_url = create_database("vorm_bench_api") if args.postgres else f"sqlite:///{base_dir / 'vorm.db'}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ENVIRONMENT": "test", "DATA_DIR": str(base_dir / "data"), "DATABASE_URL": db_url,
           "STORAGE_DIR": str(base_dir / "storage"), "PUBLIC_URL": url, "VORM_SECRETS_FILE": "/nonexistent",
           "SECRET_KEY": "bench-api-secret-key-0123456789abcdef", "DEVICE": "cpu", "PREMIUM_RESOLUTION_PX": "192",
           "WEBHOOKS_ALLOW_PRIVATE": "1", "PREMIUM_API_REQUESTS_PER_MINUTE": "10000000",
           "PREMIUM_DAILY_GENERATIONS": "100000", "PYTHONUNBUFFERED": "1"}
    (base_dir / "data").mkdir()

    def manage(*cmd: str) -> str:
        return subprocess.run([sys.executable, "-m", "core.manage", *cmd], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True).stdout

    manage("migrate")
    procs: list[subprocess.Popen[Any]] = []
    log = open(base_dir / "processes.log", "w")  # noqa: SIM115
    try:
        procs.append(subprocess.Popen(
            [str(Path(sys.executable).parent / "streamlit"), "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        procs.append(subprocess.Popen([sys.executable, "-m", "jobs.worker"], cwd=ROOT, env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        _wait_healthy(url)
        manage("create-user", "--email", "bench@example.org", "--password", "bench-pass-123", "--plan", "premium")
        key = manage("api-key", "create", "--email", "bench@example.org").strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        api = url + "/api/v1"
        engine = "PostgreSQL" if args.postgres else "SQLite"
        print(f"Vorm API on {engine}, one web process and one worker, {os.cpu_count()} CPUs")  # noqa: T201
        seconds, job_id = round_trips(api, headers, args.jobs)
        print(f"create-to-webhook ({len(seconds)} jobs, real engine at 192 px): "  # noqa: T201
              f"p50 {statistics.median(seconds):.2f} s, p95 {_percentile(seconds, 0.95):.2f} s")
        latencies, errors = asyncio.run(_load(f"{api}/jobs/{job_id}", headers, args.clients, args.seconds))
        ms = [x * 1000 for x in latencies]
        print(f"GET /api/v1/jobs/{{id}}, {args.clients} clients for {args.seconds:.0f} s: "  # noqa: T201
              f"{len(latencies) / args.seconds:.0f} requests/s, p50 {statistics.median(ms):.0f} ms, "
              f"p95 {_percentile(ms, 0.95):.0f} ms, {errors} non-200")
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        if args.postgres:
            drop_database(db_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
