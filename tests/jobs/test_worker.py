"""Real ``python -m jobs.worker`` processes against a fresh PostgreSQL database.

These use the fast test engine (tests/jobs/fast_engine.py) through VORM_ENGINE_PLUGINS:
they test the queue and the worker (claims, leases, crashes, shutdown, maintenance),
not geometry, and 200 real generations would not fit the time budget. The real engine
runs end to end in test_generation_jobs.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.config import ROOT
from core.db import migrate
from tests.conftest import _pg_available, create_pg_database, drop_pg_database

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not _pg_available(), reason="PostgreSQL is not reachable")]


class Fleet:
    """Worker processes sharing one database and one storage folder."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.engine = sa.create_engine(url)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(tmp / "data"),
                    "STORAGE_DIR": str(tmp / "storage"), "STORAGE_BACKEND": "local", "DEVICE": "cpu",
                    "ENVIRONMENT": "test", "VORM_SECRETS_FILE": "/nonexistent/secrets.toml", "SMTP_HOST": "",
                    "VORM_ENGINE_PLUGINS": "tests.jobs.fast_engine", "PYTHONPATH": str(ROOT),
                    "LOG_LEVEL": "INFO"}

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", *args], cwd=ROOT, env={**self.env, **env},
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker*.log")))

    def sql(self, text: str, **params: object) -> list[sa.Row]:  # type: ignore[type-arg]
        with self.engine.begin() as conn:
            result = conn.execute(sa.text(text), params)
            return list(result) if result.returns_rows else []

    def add_jobs(self, inputs: list[bytes], *, plan: str = "free", max_attempts: int = 3) -> list[int]:
        """Users, uploads (bytes the fast engine reads as instructions) and queued jobs."""
        from core.storage import LocalStorage

        storage = LocalStorage(self.tmp / "storage")
        (uid,) = self.sql("INSERT INTO \"user\" (email, name, locale, password_hash, role, plan, failed_logins, "
                          "created_at, updated_at) VALUES (:e, '', 'en', 'x', 'user', :p, 0, now(), now()) "
                          "RETURNING id", e=f"u{time.monotonic_ns()}@example.org", p=plan)[0]
        ids = []
        for n, data in enumerate(inputs):
            key = f"users/{uid}/uploads/{n}.png"
            storage.put(key, data)
            (upload_id,) = self.sql("INSERT INTO upload (user_id, storage_key, filename, content_type, size_bytes, "
                                    "width, height, sha256, created_at) VALUES (:u, :k, '', 'image/png', 0, 0, 0, "
                                    "'', now()) RETURNING id", u=uid, k=key)[0]
            (job_id,) = self.sql(
                "INSERT INTO generation_job (user_id, status, mode, name, options, upload_ids, priority, "
                "progress_pct, attempts, max_attempts, stats, created_at) VALUES (:u, 'queued', 'auto', '', "
                "'{\"engine\": \"fast\"}', :ups, 0, 0, 0, :m, '{}', now()) RETURNING id",
                u=uid, ups=f"[{upload_id}]", m=max_attempts)[0]
            ids.append(job_id)
        return ids

    def status(self, job_id: int) -> sa.Row:  # type: ignore[type-arg]
        return self.sql("SELECT status, attempts, worker_id, error_code, error_message, lease_expires_at "
                        "FROM generation_job WHERE id = :i", i=job_id)[0]

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()[-4000:]}")

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.engine.dispose()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    url = create_pg_database("vorm_worker")
    migrate(url)
    fleet = Fleet(url, tmp_path)
    yield fleet
    fleet.close()
    drop_pg_database(url)


def test_four_workers_complete_200_jobs_exactly_once(fleet: Fleet) -> None:
    ids = fleet.add_jobs([b"box"] * 200)
    procs = [fleet.start("--once", "--concurrency", "2", "--no-maintenance") for _ in range(4)]
    for proc in procs:
        assert proc.wait(120) == 0, fleet.logs()[-4000:]
    rows = fleet.sql("SELECT status, count(*) FROM generation_job GROUP BY status")
    assert dict(rows) == {"succeeded": 200}, fleet.logs()[-4000:]
    assert fleet.sql("SELECT count(*), count(DISTINCT job_id), count(DISTINCT storage_prefix) FROM model3d")[0] \
        == (200, 200, 200)
    assert fleet.sql("SELECT count(*) FROM generation_job WHERE model_id IS NULL OR attempts <> 1")[0][0] == 0
    models = list((fleet.tmp / "storage").glob("users/*/models/*"))
    assert len(models) == 200 and all((m / "model.glb").is_file() for m in models)
    workers = {r[0] for r in fleet.sql("SELECT DISTINCT worker_id FROM generation_job")}
    assert len(workers) >= 2, "the jobs should have been shared between workers"
    assert sorted(ids) == sorted(r[0] for r in fleet.sql("SELECT job_id FROM model3d"))


def test_killed_worker_job_is_recovered_and_a_crashing_job_fails_after_max_attempts(fleet: Fleet) -> None:
    lease = {"JOB_LEASE_SECONDS": "2"}
    (slow,) = fleet.add_jobs([b"sleep:2"])
    victim = fleet.start("--no-maintenance", **lease)
    fleet.wait_for("the slow job to run", lambda: fleet.status(slow).status == "running")
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert fleet.status(slow).status == "running"  # nobody released it: the lease must expire
    (crash,) = fleet.add_jobs([b"crash"], max_attempts=3)
    rescuer = fleet.start("--no-maintenance", **lease)
    fleet.wait_for("the slow job to succeed on another worker", lambda: fleet.status(slow).status == "succeeded")
    row = fleet.status(slow)
    assert row.attempts == 2 and row.worker_id != "" and row.lease_expires_at is None
    fleet.wait_for("the crashing job to fail", lambda: fleet.status(crash).status == "failed", timeout=60)
    row = fleet.status(crash)
    assert (row.attempts, row.error_code) == (3, "crashed") and "failed 3 times" in row.error_message
    assert fleet.sql("SELECT count(*) FROM model3d")[0][0] == 1
    assert fleet.stop(rescuer) == 0


def test_three_workers_run_maintenance_once_and_shut_down_cleanly(fleet: Fleet) -> None:
    (long_job,) = fleet.add_jobs([b"sleep:60"])
    (short_job,) = fleet.add_jobs([b"sleep:1"])
    procs = [fleet.start("--grace-seconds", "3") for _ in range(3)]
    fleet.wait_for("three heartbeats", lambda: fleet.sql("SELECT count(*) FROM worker_heartbeat")[0][0] == 3)
    fleet.wait_for("both jobs to start", lambda: fleet.status(long_job).status == "running"
                   and fleet.status(short_job).status in ("running", "succeeded"))
    fleet.wait_for("the maintenance slots", lambda: fleet.sql(
        "SELECT count(*) FROM maintenance_run WHERE finished_at IS NOT NULL")[0][0] == 2)
    time.sleep(1.0)  # give any duplicate run the time to show up
    runs = fleet.sql("SELECT name, slot, count(*) FROM maintenance_run GROUP BY name, slot ORDER BY name")
    assert [(name, n) for name, _slot, n in runs] == [("daily", 1), ("hourly", 1)]
    started = time.monotonic()
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    codes = [p.wait(30) for p in procs]
    assert codes == [0, 0, 0], fleet.logs()[-4000:]
    assert time.monotonic() - started < 20
    assert fleet.sql("SELECT count(*) FROM generation_job WHERE status = 'running'")[0][0] == 0
    row = fleet.status(long_job)
    assert (row.status, row.attempts, row.worker_id, row.lease_expires_at) == ("queued", 0, None, None)
    assert fleet.status(short_job).status == "succeeded"  # it finished within the grace period
    assert fleet.sql("SELECT count(*) FROM worker_heartbeat")[0][0] == 0
    assert "released back to the queue" in fleet.logs()
