"""LISTEN/NOTIFY on a real PostgreSQL: a queued job is heard when it commits, and the listener survives its
connection being killed."""

from __future__ import annotations

import queue as stdqueue
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from core.db import get_engine, get_session
from core.jobs import claims, queue
from core.jobs.wakeup import Listener
from tests.utils.builders import create_random_user

NAME = "vorm-test-listener"


@pytest.fixture
def heard(pg_db: str) -> Iterator[tuple[Listener, stdqueue.Queue[float]]]:
    wakes: stdqueue.Queue[float] = stdqueue.Queue()
    listener = Listener(get_engine().url, lambda: wakes.put(time.monotonic()), name=NAME).start()
    assert listener.listening.wait(10)
    assert wakes.get(timeout=5)  # the wake-up after connecting: jobs queued before LISTEN were never heard
    yield listener, wakes
    listener.stop()
    assert not listener._thread.is_alive()


def _nothing(wakes: stdqueue.Queue[float], seconds: float = 0.3) -> bool:
    try:
        wakes.get(timeout=seconds)
    except stdqueue.Empty:
        return True
    return False


def test_a_job_is_heard_when_it_commits_not_before_and_not_after_a_rollback(heard) -> None:  # type: ignore[no-untyped-def]
    _, wakes = heard
    with get_session() as session:
        user_id = int(create_random_user(session).id or 0)
        assert _nothing(wakes)  # a user is not a job
        queue.insert_job(session, user_id=user_id, upload_ids=[1])
        assert _nothing(wakes)  # not yet committed
        committed = time.monotonic()
        session.commit()
        assert wakes.get(timeout=2) - committed < 0.5
        queue.insert_job(session, user_id=user_id, upload_ids=[1])
        session.rollback()
        assert _nothing(wakes)
        # A claimed job is not news; a requeued one is.
        (job,) = claims.claim_jobs(session, worker_id="w")
        assert _nothing(wakes)
        claims.fail_job(session, job=job, code="x", message="x")
        assert _nothing(wakes)
        queue.requeue(session, job_id=int(job.id or 0))
        assert wakes.get(timeout=2)
        # A retry due later is not news either: polling finds it when it is due.
        (job,) = claims.claim_jobs(session, worker_id="w")
        claims.retry_job(session, job=job, delay_seconds=60, code="transient", message="x")
        assert _nothing(wakes)


def test_the_listener_reconnects_after_its_connection_is_killed(heard) -> None:  # type: ignore[no-untyped-def]
    listener, wakes = heard
    engine = sa.create_engine(get_engine().url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        killed = conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = :n"), {"n": NAME}).scalars().all()
        assert killed == [True]
    engine.dispose()
    assert wakes.get(timeout=10)  # reconnected, and woke the worker in case a job came meanwhile
    assert listener.connects == 2 and listener.listening.is_set()
    with get_session() as session:
        queue.insert_job(session, user_id=int(create_random_user(session).id or 0), upload_ids=[1])
        session.commit()
    assert wakes.get(timeout=2)


def test_an_unreachable_database_never_kills_the_listener(pg_db: str) -> None:
    url = sa.make_url(get_engine().url).set(port=1)
    listener = Listener(url, lambda: None).start()
    time.sleep(1.0)
    assert listener._thread.is_alive() and not listener.listening.is_set() and listener.connects == 0
    listener.stop()
    assert not listener._thread.is_alive()
