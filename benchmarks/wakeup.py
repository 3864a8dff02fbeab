"""Wake-up latency: how soon a job queued on an idle fleet starts, with LISTEN/NOTIFY and with polling only.

    .venv/bin/python -m benchmarks.wakeup [--jobs 40] [--gap 0.5]

One real worker process (``python -m jobs.worker --no-maintenance``, the real runner) on a fresh
PostgreSQL database. Jobs are queued one at a time through ``queue.insert_job``, each a random
0.5 to 1.5 × ``--gap`` after the last, so that the worker is idle each time and the jobs land at every
phase of its poll. A job's latency runs from just before its COMMIT is sent to its ``started_at``,
which the claim sets from the database's clock (the same machine, so both clocks are one). The jobs
name an upload that does not exist, so the runner fails them at once: only the claim is measured.
Then the same with ``WORKER_LISTEN=false``: the 1 s poll (``WORKER_POLL_SECONDS``) alone.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from benchmarks.queue import _vorm_env, create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent


def _start_worker(url: str, data: Path, listen: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(data), "STORAGE_DIR": str(data / "storage"),
           "VORM_SECRETS_FILE": "/nonexistent/secrets.toml", "ENVIRONMENT": "test", "DEVICE": "cpu",
           "WORKER_LISTEN": "true" if listen else "false", "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", "--no-maintenance"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=(data / f"worker-{listen}.log").open("wb"))


def _wait_ready(engine: sa.Engine, listen: bool, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    check = ("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'vorm-worker %' "
             "AND query LIKE 'LISTEN%'") if listen else "SELECT count(*) FROM worker_heartbeat"
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(sa.text(check)).scalar():
                time.sleep(1.0)  # the first poll has run and found nothing
                return
        time.sleep(0.1)
    raise RuntimeError("the worker did not start")


def measure(url: str, jobs: int, gap: float, listen: bool) -> list[float]:
    """Milliseconds from COMMIT to started_at for each job."""
    from core.db import get_session, reset_engines
    from core.jobs import queue

    _vorm_env(url)
    engine = sa.create_engine(url)
    with tempfile.TemporaryDirectory() as tmp:
        worker = _start_worker(url, Path(tmp), listen)
        try:
            _wait_ready(engine, listen)
            sent: dict[int, float] = {}
            with get_session() as session:
                for _ in range(jobs):
                    time.sleep(gap * random.uniform(0.5, 1.5))
                    job = queue.insert_job(session, user_id=1, upload_ids=[999_999])
                    sent[int(job.id or 0)] = time.time()
                    session.commit()
            deadline = time.monotonic() + 30
            with engine.connect() as conn:
                while time.monotonic() < deadline:
                    rows = dict(conn.execute(sa.text("SELECT id, started_at FROM generation_job WHERE id = ANY(:ids) "
                                                     "AND started_at IS NOT NULL"), {"ids": list(sent)}).all())
                    conn.rollback()
                    if len(rows) == len(sent):
                        break
                    time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(60)
            engine.dispose()
            reset_engines()
    if len(rows) != len(sent):
        raise RuntimeError(f"only {len(rows)} of {len(sent)} jobs started")
    return [(rows[i].timestamp() - t) * 1000 for i, t in sent.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=40, help="jobs per side")
    parser.add_argument("--gap", type=float, default=0.5, help="mean seconds between two jobs")
    args = parser.parse_args()

    from core.db import migrate

    url = create_database("vorm_wakeup")
    try:
        migrate(url)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO \"user\" (id, email, name, locale, password_hash, role, plan, "
                                 "failed_logins, created_at, updated_at) VALUES (1, 'bench@example.org', '', 'en', "
                                 "'x', 'user', 'free', 0, now(), now())"))
        engine.dispose()
        print(f"{args.jobs} jobs per side, one idle worker process, {os.cpu_count()} CPUs; "
              f"milliseconds from COMMIT to the claim")
        print(f"{'wake-up':>22} | {'p50':>7} {'p95':>7} {'max':>7} {'mean':>7}")
        for listen, name in ((True, "LISTEN/NOTIFY"), (False, "polling only (1 s)")):
            ms = sorted(measure(url, args.jobs, args.gap, listen))
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            print(f"{name:>22} | {statistics.median(ms):>7.1f} {p95:>7.1f} {ms[-1]:>7.1f} "
                  f"{statistics.fmean(ms):>7.1f}", flush=True)
    finally:
        from core.db import reset_engines

        reset_engines()
        drop_database(url)


if __name__ == "__main__":
    main()
