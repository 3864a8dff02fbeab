"""Queue throughput: empty jobs enqueued, then claimed and completed by 1, 2 and 4 worker processes.

    .venv/bin/python -m benchmarks.queue [--jobs 2000] [--workers 1 2 4]

Vorm's side uses the queue functions the worker uses: ``queue.insert_job`` (one
transaction per job; ``enqueue_generation`` adds the per-user limit checks on top) and
each process runs ``jobs.worker.drain``, the worker's slot loop, with an empty runner that
only calls ``claims.complete_job`` (on a connection it keeps); as in the worker, completing a job claims
the slot's next one in the same statement (``claims.claim_next_on_finish``), so each job costs one round
trip after the first. Procrastinate 3 runs the same workload on the same server:
``defer_async`` one job at a time, then processes each running
``app.run_worker_async(wait=False, concurrency=1)``, which exits when the queue is empty.
Each side has its own fresh database. Timings start once every process has imported and
connected (a barrier) and stop when the last process has exited. Rounds alternate between
the two sides and each figure is the median of ``--repeats`` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import threading
import time
import uuid
from typing import Any

import sqlalchemy as sa

ADMIN_URL = os.environ.get("VORM_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    eng = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    eng.dispose()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# --- Vorm -----------------------------------------------------------------


def _vorm_env(url: str) -> None:
    os.environ.update(DATABASE_URL=url, VORM_SECRETS_FILE="/nonexistent/secrets.toml", ENVIRONMENT="test")
    from core.config import reset_settings
    from core.db import reset_engines

    reset_settings()
    reset_engines()


def _vorm_worker(url: str, barrier: Any, n: int) -> None:
    _vorm_env(url)
    from sqlmodel import Session

    from core.db import get_engine, get_session
    from core.jobs import claims
    from jobs.worker import drain

    # The empty task keeps its connection, as procrastinate's worker keeps its pool's.
    conn = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")

    def empty(job: Any, *, lost: threading.Event) -> str:
        with Session(bind=conn, expire_on_commit=False) as session:
            return "succeeded" if claims.complete_job(session, job=job, stats={}) else "lost"

    with get_session() as session:  # connect before the clock starts
        session.execute(sa.text("SELECT 1"))
    barrier.wait()
    drain(f"bench-{n}", empty, stop=threading.Event())
    conn.close()


def vorm_round(url: str, jobs: int, workers: int) -> tuple[float, float]:
    _vorm_env(url)
    from core.db import get_session
    from core.jobs import queue

    with get_session() as session:
        session.execute(sa.text("TRUNCATE generation_job, \"user\" RESTART IDENTITY CASCADE"))
        session.execute(sa.text("INSERT INTO \"user\" (id, email, name, locale, password_hash, role, plan, "
                                "failed_logins, created_at, updated_at) VALUES (1, 'bench@example.org', '', 'en', "
                                "'x', 'user', 'free', 0, now(), now())"))
        session.commit()
        started = time.perf_counter()
        for _ in range(jobs):
            queue.insert_job(session, user_id=1, upload_ids=[1])
            session.commit()
        enqueue_rate = jobs / (time.perf_counter() - started)
    from core.db import reset_engines

    reset_engines()
    elapsed = _run_processes(_vorm_worker, url, workers)
    with get_session() as session:
        done = session.execute(sa.text("SELECT count(*) FROM generation_job WHERE status = 'succeeded'")).scalar()
    assert done == jobs, f"vorm: {done} of {jobs} jobs succeeded"
    return enqueue_rate, jobs / elapsed


# --- procrastinate --------------------------------------------------------


def _procrastinate_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=_libpq(url)))

    @app.task(name="noop")
    def noop() -> None:
        return None

    return app


def _procrastinate_worker(url: str, barrier: Any, n: int) -> None:
    import logging

    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    app = _procrastinate_app(url)

    async def main() -> None:
        async with app.open_async():
            await app.job_manager.check_connection_async()
            await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
            await app.run_worker_async(wait=False, concurrency=1, install_signal_handlers=False,
                                       name=f"bench-{n}")

    asyncio.run(main())


def procrastinate_round(url: str, jobs: int, workers: int) -> tuple[float, float]:
    app = _procrastinate_app(url)
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("TRUNCATE procrastinate_jobs RESTART IDENTITY CASCADE"))

    async def defer_all() -> float:
        async with app.open_async():
            task = app.tasks["noop"]
            started = time.perf_counter()
            for _ in range(jobs):
                await task.defer_async()
            return jobs / (time.perf_counter() - started)

    enqueue_rate = asyncio.run(defer_all())
    elapsed = _run_processes(_procrastinate_worker, url, workers)
    with eng.begin() as c:
        done = c.execute(sa.text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")).scalar()
    eng.dispose()
    assert done == jobs, f"procrastinate: {done} of {jobs} jobs succeeded"
    return enqueue_rate, jobs / elapsed


def procrastinate_schema(url: str) -> None:
    app = _procrastinate_app(url)

    async def apply() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    asyncio.run(apply())


# --- common ---------------------------------------------------------------


def _run_processes(target: Any, url: str, workers: int) -> float:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    procs = [ctx.Process(target=target, args=(url, barrier, n)) for n in range(workers)]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    for p in procs:
        p.join(300)
        if p.exitcode != 0:
            raise RuntimeError(f"a benchmark worker exited with {p.exitcode}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3, help="rounds per row, alternating; medians are shown")
    args = parser.parse_args()

    from core.db import migrate

    vorm_url, proc_url = create_database("vorm_bench"), create_database("procrastinate_bench")
    try:
        migrate(vorm_url)
        procrastinate_schema(proc_url)
        print(f"{args.jobs} empty jobs per round, PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1].rsplit('/', 1)[0]}, "
              f"{os.cpu_count()} CPUs")
        print(f"{'workers':>7} | {'vorm enqueue/s':>14} {'vorm run/s':>10} | {'procr. enqueue/s':>16} "
              f"{'procr. run/s':>12} | {'ratio run':>9} {'ratio enqueue':>13}")
        for workers in args.workers:
            vorm, procr = [], []
            for _ in range(args.repeats):  # alternating, so background load hits both sides alike
                vorm.append(vorm_round(vorm_url, args.jobs, workers))
                procr.append(procrastinate_round(proc_url, args.jobs, workers))
            v_enq, v_run = (statistics.median(x) for x in zip(*vorm, strict=True))
            p_enq, p_run = (statistics.median(x) for x in zip(*procr, strict=True))
            print(f"{workers:>7} | {v_enq:>14.0f} {v_run:>10.0f} | {p_enq:>16.0f} {p_run:>12.0f} | "
                  f"{v_run / p_run:>8.2f}x {v_enq / p_enq:>12.2f}x", flush=True)
    finally:
        from core.db import reset_engines

        reset_engines()
        drop_database(vorm_url)
        drop_database(proc_url)


if __name__ == "__main__":
    main()
