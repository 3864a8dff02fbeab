"""The product's processes for end-to-end tests: web processes, workers and operator commands, as the README
starts them (``streamlit run app.py``, ``python -m jobs.worker``, ``python -m core.manage``).

Each process runs in its own session (process group), so that stopping it stops everything it started,
and ``stop`` always ends them: SIGTERM, then SIGKILL for any that did not exit in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "artifacts" / "e2e-logs"
STARTUP_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0
BIN = Path(sys.executable).parent

#: Settings every started stack shares: the CPU and small images (the tests check the product, not the engine).
TEST_SETTINGS = {"ENVIRONMENT": "test", "VORM_SECRETS_FILE": "/nonexistent/secrets.toml", "DEVICE": "cpu",
                 "FREE_RESOLUTION_PX": "192", "PREMIUM_RESOLUTION_PX": "192", "PYTHONUNBUFFERED": "1"}


def spawn(args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """Start ``args`` in the repository, output to ``log``, in a process group of its own."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def start_web(port: int, *, env: dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """``streamlit run app.py`` on 127.0.0.1:``port``."""
    return spawn([str(BIN / "streamlit"), "run", "app.py", "--server.port", str(port), "--server.address",
                  "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"], env=env, log=log)


def start_worker(*, env: dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """``python -m jobs.worker``."""
    return spawn([sys.executable, "-m", "jobs.worker"], env=env, log=log)


def wait_healthy(url: str, procs: list[subprocess.Popen], logs: Path) -> None:  # type: ignore[type-arg]
    """Until ``url``/healthz answers 200; fails at once if one of ``procs`` exits meanwhile."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a process exited at start ({proc.args!r}); see {logs}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"/healthz did not answer 200 within {STARTUP_TIMEOUT_SECONDS}s; see {logs}")


def stop(procs: list[subprocess.Popen], *, timeout: float = STOP_TIMEOUT_SECONDS) -> None:  # type: ignore[type-arg]
    """SIGTERM every process group still running, then SIGKILL those that have not exited after ``timeout``."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def manage(env: dict[str, str], *args: str) -> str:
    """``python -m core.manage ARGS``; its output."""
    done = subprocess.run([sys.executable, "-m", "core.manage", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout


def api_account(env: dict[str, str], plan: str = "premium", password: str = "api-tests-pass-1") -> tuple[str, str]:
    """A new user and an API key of theirs, made by the operator commands; (email, key)."""
    email = f"api-{uuid.uuid4().hex[:8]}@example.org"
    manage(env, "create-user", "--email", email, "--password", password, "--plan", plan)
    return email, api_key(env, email)


def api_key(env: dict[str, str], email: str) -> str:
    """A new API key of an existing user, made by the operator command."""
    return manage(env, "api-key", "create", "--email", email, "--name", "tests").strip().splitlines()[-1]
