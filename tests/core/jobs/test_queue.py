"""The job queue's operations on both engines: limits at enqueue, claim order, leases, fencing, recovery."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from core.db import get_session
from core.errors import NotFound, QuotaExceeded
from core.jobs import claims, errors, fleet, queue
from core.models import GenerationJob, JobStatus, MaintenanceRun, Model3D, Upload, User
from tests.utils.builders import create_random_user


def _uploads(session: Session, user: User, n: int = 1) -> list[int]:
    rows = [Upload(user_id=user.id, storage_key=f"users/{user.id}/uploads/{i}.png") for i in range(n)]
    session.add_all(rows)
    session.commit()
    return [int(r.id or 0) for r in rows]


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    from core.config import reset_settings

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()


def _enqueue(session: Session, user: User, n_views: int = 1, mode: str = "auto", **options: object) -> GenerationJob:
    return queue.enqueue_generation(session, user=user, upload_ids=_uploads(session, user, n_views), mode=mode,
                                    options=dict(options), name="vase")


def _finish(session: Session, job: GenerationJob, status: str = JobStatus.SUCCEEDED) -> None:
    session.execute(sa.update(GenerationJob).where(GenerationJob.id == job.id).values(status=status))
    session.commit()


# --- enqueue and limits ---------------------------------------------------


def test_enqueue_records_the_job_with_tier_priority_and_resolution(session: Session) -> None:
    free, premium = create_random_user(session), create_random_user(session, plan="premium")
    job = _enqueue(session, free, faces=5000)
    assert (job.status, job.mode, job.name, job.priority, job.attempts) == ("queued", "auto", "vase", 0, 0)
    assert job.options == {"faces": 5000, "resolution": 512}
    assert job.max_attempts == 3
    pjob = _enqueue(session, premium)
    assert pjob.priority > job.priority and pjob.options["resolution"] == 1024


def test_daily_quota_refuses_with_a_clear_reason(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, FREE_DAILY_GENERATIONS="3")
    user = create_random_user(session)
    assert queue.quota_left_today(session, user=user) == 3
    for _ in range(3):
        _finish(session, _enqueue(session, user))
    assert queue.quota_left_today(session, user=user) == 0
    with pytest.raises(errors.DailyQuotaReached) as err:
        _enqueue(session, user)
    assert err.value.code == "daily_quota"
    assert isinstance(err.value, QuotaExceeded)
    assert "all 3 generations" in str(err.value) and "Try again after midnight" in str(err.value)


def test_failed_and_unstarted_cancelled_jobs_do_not_use_quota(session: Session,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(monkeypatch, FREE_DAILY_GENERATIONS="2")
    user = create_random_user(session)
    _finish(session, _enqueue(session, user), JobStatus.FAILED)
    queue.cancel_job(session, job_id=int(_enqueue(session, user).id or 0), user_id=user.id)
    assert queue.quota_left_today(session, user=user) == 2
    yesterday = datetime.now(UTC) - timedelta(days=1)
    old = _enqueue(session, user)
    session.execute(sa.update(GenerationJob).where(GenerationJob.id == old.id)
                    .values(created_at=yesterday, status="succeeded"))
    session.commit()
    assert queue.quota_left_today(session, user=user) == 2


def test_at_most_two_jobs_queued_or_running_per_user(session: Session) -> None:
    user, other = create_random_user(session), create_random_user(session)
    first = _enqueue(session, user)
    _enqueue(session, user)
    with pytest.raises(errors.TooManyActiveJobs) as err:
        _enqueue(session, user)
    assert err.value.code == "too_many_running"
    assert "2 generations queued or running" in str(err.value) and "cancel one" in str(err.value)
    _enqueue(session, other)  # another user is not affected
    _finish(session, first)
    _enqueue(session, user)  # a slot freed up


def test_views_are_limited_by_tier(session: Session) -> None:
    free, premium = create_random_user(session), create_random_user(session, plan="premium")
    with pytest.raises(errors.TooManyViews) as err:
        _enqueue(session, free, n_views=5, mode="carve")
    assert err.value.code == "too_many_views" and "at most 4 images" in str(err.value)
    assert "you gave 5" in str(err.value)
    assert _enqueue(session, free, n_views=4, mode="carve").upload_ids
    assert len(_enqueue(session, premium, n_views=5, mode="auto").upload_ids) == 5


def test_enqueue_checks_input_and_ownership(session: Session) -> None:
    user, other = create_random_user(session), create_random_user(session)
    with pytest.raises(errors.NoImages):
        queue.enqueue_generation(session, user=user, upload_ids=[], mode="auto", options={})
    with pytest.raises(errors.UnknownMode):
        _enqueue(session, user, mode="sculpt")
    with pytest.raises(errors.UnknownOption) as err:
        _enqueue(session, user, device="cuda")
    assert "'device'" in str(err.value)
    with pytest.raises(NotFound):
        queue.enqueue_generation(session, user=user, upload_ids=_uploads(session, other), mode="auto", options={})
    assert session.exec(select(sa.func.count()).select_from(GenerationJob)).one() == 0


def test_a_box_around_the_object_goes_with_one_inflate_image_only(session: Session) -> None:
    from core.generation.errors import InvalidOption

    user = create_random_user(session)
    job = _enqueue(session, user, mode="inflate", box=[0.1, 0.2, 0.6, 0.9])
    assert job.options["box"] == [0.1, 0.2, 0.6, 0.9]
    assert _enqueue(session, user, mode="auto", box=(0.0, 0.0, 1.0, 1.0)).options["box"]
    _finish(session, job)
    for n_views, mode in ((2, "carve"), (1, "relief"), (2, "auto")):
        with pytest.raises(errors.BoxNotApplicable):
            _enqueue(session, user, n_views=n_views, mode=mode, box=[0.1, 0.2, 0.6, 0.9])
    for bad in ([0.6, 0.2, 0.1, 0.9], [0.1, 0.2, 0.6], [0.1, 0.2, 0.6, float("nan")], [0, 0, 1.5, 1], "box"):
        with pytest.raises(InvalidOption):
            _enqueue(session, user, mode="inflate", box=bad)
    assert session.exec(select(sa.func.count()).select_from(GenerationJob)).one() == 2


def test_get_list_cancel_and_position(session: Session) -> None:
    user, other = create_random_user(session), create_random_user(session)
    a, b = _enqueue(session, user), _enqueue(session, user)
    c = _enqueue(session, other)
    assert queue.get_job(session, job_id=a.id, user_id=user.id).id == a.id
    with pytest.raises(NotFound):
        queue.get_job(session, job_id=c.id, user_id=user.id)
    assert [j.id for j in queue.list_jobs(session, user_id=user.id)] == [b.id, a.id]
    assert [j.id for j in queue.list_jobs(session, user_id=user.id, limit=1, offset=1)] == [a.id]
    assert queue.queue_position(session, job=a) == 0
    assert queue.queue_position(session, job=c) == 2
    cancelled = queue.cancel_job(session, job_id=a.id, user_id=user.id)
    assert cancelled.status == "cancelled"
    assert queue.queue_position(session, job=cancelled) is None
    assert queue.queue_position(session, job=queue.get_job(session, job_id=c.id, user_id=None)) == 1
    assert [j.id for j in queue.list_jobs(session, user_id=user.id, status="cancelled")] == [a.id]
    with pytest.raises(NotFound):
        queue.cancel_job(session, job_id=b.id, user_id=other.id)


# --- claiming -------------------------------------------------------------


def test_premium_job_enqueued_after_free_ones_is_claimed_first(session: Session) -> None:
    free = [create_random_user(session) for _ in range(3)]
    premium = create_random_user(session, plan="premium")
    free_jobs = [_enqueue(session, u) for u in free]
    pjob = _enqueue(session, premium)
    claimed = [claims.claim_jobs(session, worker_id="w1")[0].id for _ in range(4)]
    assert claimed == [pjob.id] + [j.id for j in free_jobs]
    assert claims.claim_jobs(session, worker_id="w1") == []


def test_claim_sets_lease_and_fences_stale_claims(session: Session) -> None:
    user = create_random_user(session)
    job = _enqueue(session, user)
    (claim,) = claims.claim_jobs(session, worker_id="w1", lease_seconds=60)
    assert (claim.status, claim.worker_id, claim.attempts) == ("running", "w1", 1)
    assert claim.lease_expires_at is not None and claim.started_at is not None
    assert claims.update_progress(session, job=claim, stage="mask", pct=20)
    assert queue.get_job(session, job_id=job.id, user_id=None).progress_stage == "mask"
    assert claims.renew_leases(session, worker_id="w1", job_ids=[int(job.id or 0)]) == {job.id}
    assert claims.renew_leases(session, worker_id="w2", job_ids=[int(job.id or 0)]) == set()
    # The lease is taken away (as recovery would after a crash); the old claim may no longer finish it.
    assert claims.release_job(session, job=claim)
    (again,) = claims.claim_jobs(session, worker_id="w2")
    assert again.attempts == 1  # a release does not count as an attempt
    assert not claims.complete_job(session, job=claim, stats={})
    assert not claims.fail_job(session, job=claim, code="x", message="x")
    assert claims.complete_job(session, job=again, stats={"device": "cpu"},
                              model=Model3D(user_id=user.id, job_id=job.id, storage_prefix="p/", glb_key="p/m.glb"))
    done = queue.get_job(session, job_id=job.id, user_id=None)
    assert (done.status, done.progress_pct, done.stats) == ("succeeded", 100, {"device": "cpu"})
    assert done.model_id is not None and done.finished_at is not None
    assert session.exec(select(sa.func.count()).select_from(Model3D)).one() == 1


def test_cancelled_running_job_cannot_complete(session: Session) -> None:
    user = create_random_user(session)
    job = _enqueue(session, user)
    (claim,) = claims.claim_jobs(session, worker_id="w1")
    queue.cancel_job(session, job_id=job.id, user_id=user.id)
    assert not claims.update_progress(session, job=claim, stage="mesh", pct=50)
    assert not claims.complete_job(session, job=claim, stats={},
                                  model=Model3D(user_id=user.id, storage_prefix="p/", glb_key="p/m.glb"))
    assert session.exec(select(sa.func.count()).select_from(Model3D)).one() == 0
    assert queue.get_job(session, job_id=job.id, user_id=None).status == "cancelled"


def test_retry_backs_off_and_counts_attempts(session: Session) -> None:
    user = create_random_user(session)
    job = _enqueue(session, user)
    (claim,) = claims.claim_jobs(session, worker_id="w1")
    assert claims.retry_job(session, job=claim, delay_seconds=60, code="transient", message="storage hiccup",
                           count_attempt=False)
    row = queue.get_job(session, job_id=job.id, user_id=None)
    assert (row.status, row.attempts, row.error_code) == ("queued", 0, "transient")
    assert claims.claim_jobs(session, worker_id="w1") == []  # not due yet
    session.execute(sa.update(GenerationJob).values(run_after=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()
    (claim,) = claims.claim_jobs(session, worker_id="w1")
    assert claim.attempts == 1 and claim.error_code is None
    assert [queue.backoff_seconds(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert queue.backoff_seconds(50) == queue.RETRY_MAX_SECONDS


def test_stalled_jobs_are_requeued_then_failed_after_max_attempts(session: Session) -> None:
    user = create_random_user(session)
    job = _enqueue(session, user)
    for attempt in range(1, 4):
        (claim,) = claims.claim_jobs(session, worker_id=f"w{attempt}", lease_seconds=0.01)
        assert claim.attempts == attempt
        time.sleep(0.05)
        result = claims.recover_stalled(session)
        row = queue.get_job(session, job_id=job.id, user_id=None)
        if attempt < 3:
            assert result == {"requeued": 1, "failed": 0} and row.status == "queued"
        else:
            assert result == {"requeued": 0, "failed": 1}
            assert (row.status, row.error_code) == ("failed", "worker_lost")
            assert "stopped responding" in (row.error_message or "")
    assert claims.claim_jobs(session, worker_id="w9") == []


def test_requeue_only_failed_or_cancelled(session: Session) -> None:
    user = create_random_user(session)
    job = _enqueue(session, user)
    with pytest.raises(errors.JobNotRequeueable):
        queue.requeue(session, job_id=job.id)
    (claim,) = claims.claim_jobs(session, worker_id="w1")
    claims.fail_job(session, job=claim, code="crashed", message="boom")
    again = queue.requeue(session, job_id=job.id)
    assert (again.status, again.attempts, again.error_code) == ("queued", 0, None)
    with pytest.raises(errors.JobNotFound):
        queue.requeue(session, job_id=99999)


def test_one_worker_with_threads_claims_each_job_once(db: str) -> None:
    """On SQLite too, concurrent claims inside one process never hand out a job twice."""
    with get_session() as session:
        user = create_random_user(session)
        for _ in range(60):
            queue.insert_job(session, user_id=int(user.id or 0), upload_ids=[1])
        session.commit()
    claimed: list[int] = []
    lock = threading.Lock()

    def slot(n: int) -> None:
        while True:
            with get_session() as s:
                jobs = claims.claim_jobs(s, worker_id=f"t{n}")
                if not jobs:
                    return
                assert claims.complete_job(s, job=jobs[0], stats={})
            with lock:
                claimed.append(int(jobs[0].id or 0))

    threads = [threading.Thread(target=slot, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 60


# --- maintenance ----------------------------------------------------------


def test_maintenance_slot_is_claimed_once(session: Session) -> None:
    first = fleet.claim_maintenance(session, name="hourly", slot="2026-11-25T13", worker_id="a")
    assert first is not None
    assert fleet.claim_maintenance(session, name="hourly", slot="2026-11-25T13", worker_id="b") is None
    assert fleet.claim_maintenance(session, name="daily", slot="2026-11-25", worker_id="b") is not None
    fleet.finish_maintenance(session, run=first, result={"sent": 0})
    rows = session.exec(select(MaintenanceRun).order_by(MaintenanceRun.id)).all()
    assert [(r.name, r.slot, r.worker_id) for r in rows] == [("hourly", "2026-11-25T13", "a"),
                                                             ("daily", "2026-11-25", "b")]
    assert rows[0].finished_at is not None and rows[0].result == {"sent": 0}
    slots = fleet.Slots.at(datetime(2026, 11, 25, 13, 5, tzinfo=UTC))
    assert (slots.daily, slots.hourly) == ("2026-11-25", "2026-11-25T13")


def test_singleton_lock_admits_one_holder(pg_db: str) -> None:
    with fleet.singleton("outbox") as first, fleet.singleton("outbox") as second:
        assert first and not second
    with fleet.singleton("outbox") as again:
        assert again


def test_a_slot_finishing_its_job_claims_the_next_in_the_same_statement(session: Session, db: str) -> None:
    user = create_random_user(session)
    first, second, third, fourth = (queue.insert_job(session, user_id=int(user.id or 0), upload_ids=[1])
                                    for _ in range(4))
    session.commit()
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    stop = threading.Event()
    try:
        with claims.claim_next_on_finish(worker_id="w", kinds=None, lease_seconds=None, stop=stop) as following:
            (job,) = claims.claim_jobs(session, worker_id="w")
            assert job.id == first.id
            statements.clear()
            assert claims.complete_job(session, job=job, stats={})
            if db == "sqlite":  # no data-modifying CTEs: the slot claims on its own
                assert following.job is None and len(statements) == 1
                return
            assert len(statements) == 1 and following.job is not None and following.job.id == second.id
            job, following.job = following.job, None
            assert queue.get_job(session, job_id=int(job.id or 0), user_id=None).status == JobStatus.RUNNING
            # Its fence no longer holds (cancelled), yet the claim of the next job stands: nothing is lost.
            queue.cancel_job(session, job_id=int(job.id or 0), user_id=None)
            statements.clear()
            assert not claims.complete_job(session, job=job, stats={})
            assert len(statements) == 1 and following.job is not None and following.job.id == third.id
            job, following.job = following.job, None
            assert claims.fail_job(session, job=job, code="x", message="bad input")
            assert following.job is not None and following.job.id == fourth.id
            job, following.job = following.job, None
            stop.set()  # a slot told to stop claims nothing more
            assert claims.complete_job(session, job=job, stats={}) and following.job is None
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    states = {j.id: j.status for j in queue.list_jobs(session, user_id=None)}
    assert states == {first.id: "succeeded", second.id: "cancelled", third.id: "failed", fourth.id: "succeeded"}
