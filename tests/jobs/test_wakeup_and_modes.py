"""Real ``python -m jobs.worker`` processes: NOTIFY wakes an idle worker, and ``--modes`` limits what it takes.

The polls are set to 30 s, so only a notification can start a job within a second. A worker object in a
thread shows that SQLite, which has no NOTIFY, still gets its jobs by polling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core.db import get_engine, get_session
from core.jobs import claims, queue
from core.models import GenerationJob, JobStatus
from jobs.worker import Worker
from tests.jobs.test_worker import Fleet, fleet  # noqa: F401 (the fixture)
from tests.utils.builders import create_random_user

pytestmark = pytest.mark.slow
SLOW_POLL = {"WORKER_POLL_SECONDS": "30"}


def _started_within(fleet: Fleet, job_id: int, seconds: float) -> float | None:  # noqa: F811
    """Seconds from now until the job left the queue, or None if it did not within ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if fleet.status(job_id).status != "queued":
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def _ready(fleet: Fleet, what: str) -> Callable[[], bool]:  # noqa: F811
    return lambda: what in fleet.logs()


def test_a_job_queued_on_an_idle_fleet_starts_at_once_thanks_to_notify(fleet: Fleet) -> None:  # noqa: F811
    deaf = fleet.start("--no-maintenance", WORKER_LISTEN="false", **SLOW_POLL)
    fleet.wait_for("the deaf worker", lambda: fleet.sql("SELECT count(*) FROM worker_heartbeat")[0][0] == 1)
    time.sleep(1.0)  # its first poll has found nothing; the next is 30 s away
    (first,) = fleet.add_jobs([b"box"])
    assert _started_within(fleet, first, 2.5) is None  # polling alone leaves it waiting
    assert fleet.stop(deaf) == 0

    listening = fleet.start("--no-maintenance", **SLOW_POLL)
    fleet.wait_for("the listening worker", _ready(fleet, "Listening for queued jobs"))
    fleet.wait_for("the job queued before it listened", lambda: fleet.status(first).status == "succeeded")
    time.sleep(1.0)
    for _ in range(3):
        (job,) = fleet.add_jobs([b"box"])
        waited = _started_within(fleet, job, 1.5)
        assert waited is not None and waited < 1.0, (waited, fleet.logs()[-3000:])
        fleet.wait_for("the job to finish", lambda j=job: fleet.status(j).status == "succeeded")
    assert fleet.stop(listening) == 0


def test_an_idle_worker_still_wakes_after_its_listen_connection_is_killed(fleet: Fleet) -> None:  # noqa: F811
    worker = fleet.start("--no-maintenance", **SLOW_POLL)
    fleet.wait_for("the worker to listen", _ready(fleet, "Listening for queued jobs"))
    killed = fleet.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE "
                       "'vorm-worker %' AND query LIKE 'LISTEN%'")
    assert [r[0] for r in killed] == [True]
    fleet.wait_for("the listener to reconnect", _ready(fleet, "Listening for queued jobs again"), timeout=15)
    (job,) = fleet.add_jobs([b"box"])
    waited = _started_within(fleet, job, 1.5)
    assert waited is not None and waited < 1.0, (waited, fleet.logs()[-3000:])
    assert worker.poll() is None
    assert fleet.stop(worker) == 0


def test_a_worker_takes_only_its_modes_and_says_so_in_its_heartbeat(fleet: Fleet) -> None:  # noqa: F811
    assert fleet.start("--modes", "carve,gpu").wait(30) == 2  # an unknown kind is refused at once
    assert "unknown job kind(s) gpu" in fleet.logs()
    worker = fleet.start("--no-maintenance", "--modes", "carve", "--device", "cpu", "--concurrency", "2")
    fleet.wait_for("the worker to listen", _ready(fleet, "Listening for queued jobs"))
    (one_view,) = fleet.add_jobs([b"box"])
    (views,) = fleet.add_jobs([b"box"])
    fleet.sql("UPDATE generation_job SET upload_ids = (SELECT upload_ids FROM generation_job WHERE id = :a)::jsonb "
              "|| (SELECT upload_ids FROM generation_job WHERE id = :a)::jsonb WHERE id = :b", a=views, b=views)
    fleet.wait_for("the carve job", lambda: fleet.status(views).status == "succeeded")
    time.sleep(1.5)  # its poll has come round too
    assert fleet.status(one_view).status == "queued"
    assert fleet.sql("SELECT modes, device, concurrency FROM worker_heartbeat")[0] == ("carve", "cpu", 2)
    assert fleet.stop(worker) == 0


@pytest.mark.parametrize("listen", [True, False])
def test_a_worker_object_polls_and_listens_on_each_engine(db: str, listen: bool) -> None:
    def complete(job: GenerationJob, *, lost: threading.Event) -> str:
        with get_session() as session:
            return "succeeded" if claims.complete_job(session, job=job, stats={}) else "lost"

    poll = 0.3 if db == "sqlite" or not listen else 30.0
    worker = Worker(runner=complete, maintenance=False, warm=False, poll_seconds=poll, listen=listen,
                    modes=frozenset({"inflate"}))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while worker._scheduler is None or not worker._scheduler.running:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        if worker._listener is not None:
            assert worker._listener.listening.wait(10)
        assert (worker._listener is not None) == (db == "postgresql" and listen)
        with get_session() as session:
            user_id = int(create_random_user(session).id or 0)
            carve = queue.insert_job(session, user_id=user_id, upload_ids=[1, 2], mode="auto")
            session.commit()
            time.sleep(0.5)
            job = queue.insert_job(session, user_id=user_id, upload_ids=[1], mode="auto")
            session.commit()
            _wait(session, int(job.id or 0), JobStatus.SUCCEEDED)
            assert queue.get_job(session, job_id=int(carve.id or 0), user_id=None).status == JobStatus.QUEUED
    finally:
        worker.request_stop()
        thread.join(30)
    assert not thread.is_alive()
    with get_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM worker_heartbeat")).scalar() == 0


def _wait(session: Session, job_id: int, status: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while queue.get_job(session, job_id=job_id, user_id=None).status != status:
        assert time.monotonic() < deadline, f"job {job_id} did not reach {status}"
        session.rollback()
        time.sleep(0.05)
