"""Claiming and finishing jobs (the worker side of the queue): claims under a lease, renewals,
fenced completion, failure, retry with backoff, release at shutdown, recovery of stalled jobs."""


from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.config import get_settings
from core.jobs import kinds as job_kinds
from core.jobs.errors import WorkerLost
from core.jobs.queue import _fenced_update, _later, _now, _short, _single_statement
from core.models import (
    GenerationJob,
    JobStatus,
    UTCDateTime,
    utcnow,
)

log = logging.getLogger(__name__)

JOBS: sa.Table = GenerationJob.__table__  # type: ignore[attr-defined]



# --- claiming and finishing (the worker) ----------------------------------


@functools.cache
def _claim_statement(dialect: str, limit: int, kinds: frozenset[str] | None = None,
                     large_pixels: float = 0.0) -> Any:
    # Built once per dialect, batch size and the kinds a worker takes: the claim is the hot path, and
    # building and cache-keying a statement costs more CPU than PostgreSQL spends running it.
    if dialect == "postgresql":
        now: Any = sa.func.now()
        until: Any = now + sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.bindparam("b_lease", type_=sa.Float))
    else:
        now = sa.bindparam("b_now", type_=UTCDateTime())
        until = sa.bindparam("b_until", type_=UTCDateTime())
    due = sa.or_(JOBS.c.run_after.is_(None), JOBS.c.run_after <= now)
    pick = (sa.select(JOBS.c.id).where(JOBS.c.status == JobStatus.QUEUED, due)
            .order_by(JOBS.c.priority.desc(), JOBS.c.id).limit(limit))
    if kinds is not None:
        # Jobs of other kinds are passed over, never claimed: they wait for a worker that takes them.
        pick = pick.where(job_kinds.kind_expression(large_pixels).in_(sorted(kinds)))
    if dialect == "postgresql":
        # SKIP LOCKED: concurrent claimers pass over rows another transaction is taking.
        pick = pick.with_for_update(skip_locked=True)
    picked = pick.cte("picked")
    return (sa.update(JOBS)
            .where(JOBS.c.id == picked.c.id, JOBS.c.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, attempts=JOBS.c.attempts + 1, worker_id=sa.bindparam("b_worker_id"),
                    lease_expires_at=until, progress_stage="claimed",
                    started_at=sa.func.coalesce(JOBS.c.started_at, now), error_code=None, error_message=None,
                    error_params=None)
            .returning(*JOBS.c))


def claim_jobs(session: Session, *, worker_id: str, limit: int = 1, lease_seconds: float | None = None,
               kinds: frozenset[str] | None = None) -> list[GenerationJob]:
    """Take up to ``limit`` due jobs, highest priority then oldest first, under a lease; commits.

    ``kinds`` (core.jobs.kinds): only jobs of these kinds; None or every kind: any job.
    """
    settings = get_settings()
    lease = float(lease_seconds if lease_seconds is not None else settings.job_lease_seconds)
    dialect = session.get_bind().dialect.name
    only = None if kinds is None or set(job_kinds.KINDS) <= set(kinds) else frozenset(kinds)
    large_pixels = job_kinds.large_pixels() if only is not None else 0.0
    params: dict[str, Any] = {"b_worker_id": worker_id}
    if dialect == "postgresql":
        params["b_lease"] = lease
    else:
        params["b_now"] = utcnow()
        params["b_until"] = params["b_now"] + timedelta(seconds=lease)
    _single_statement(session)
    try:
        rows = session.connection().execute(_claim_statement(dialect, int(limit), only, large_pixels), params).all()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    # Detached snapshots of the claims: the worker passes them back to fence its updates.
    jobs = [GenerationJob(**row._mapping) for row in rows]
    return sorted(jobs, key=lambda j: (-j.priority, j.id or 0))


def renew_leases(session: Session, *, worker_id: str, job_ids: list[int],
                 lease_seconds: float | None = None) -> set[int]:
    """Extend the leases this worker holds; returns the ids it still holds (a missing one was lost)."""
    if not job_ids:
        return set()
    lease = float(lease_seconds if lease_seconds is not None else get_settings().job_lease_seconds)
    stmt = (sa.update(GenerationJob)
            .where(col(GenerationJob.id).in_(job_ids), col(GenerationJob.worker_id) == worker_id,
                   col(GenerationJob.status) == JobStatus.RUNNING)
            .values(lease_expires_at=_later(session, lease))
            .returning(col(GenerationJob.id))
            .execution_options(synchronize_session=False))
    held = {int(i) for i in session.execute(stmt).scalars().all()}
    session.commit()
    return held


def update_progress(session: Session, *, job: GenerationJob, stage: str, pct: int) -> bool:
    """Record the stage just finished; commits. False when the claim was lost (cancelled or taken over)."""
    _single_statement(session)
    ok = _fenced_update(session, job, progress_stage=stage[:32], progress_pct=max(0, min(100, int(pct))))
    session.commit()
    return ok


@functools.cache
def _complete_statement(dialect: str) -> Any:
    # Built once, like the claim: completing is the other half of every job's queue overhead.
    now: Any = sa.func.now() if dialect == "postgresql" else sa.bindparam("b_now", type_=UTCDateTime())
    fence = sa.and_(JOBS.c.id == sa.bindparam("b_job_id"), JOBS.c.status == JobStatus.RUNNING,
                    JOBS.c.worker_id == sa.bindparam("b_worker_id"), JOBS.c.attempts == sa.bindparam("b_attempts"))
    return sa.update(JOBS).where(fence).values(
        status=JobStatus.SUCCEEDED, finished_at=now, lease_expires_at=None, progress_stage="done",
        progress_pct=100, stats=sa.bindparam("b_stats", type_=JOBS.c.stats.type))


def complete_job(session: Session, *, job: GenerationJob, stats: dict[str, Any],
                 model: Any | None = None) -> bool:
    """Mark the job succeeded and add its Model3D row in one transaction; commits.

    False (and nothing written) when the claim was lost, so a result is recorded at most once.
    """
    if model is None:
        _single_statement(session)
    try:
        dialect = session.get_bind().dialect.name
        params = {"b_job_id": job.id, "b_worker_id": job.worker_id, "b_attempts": job.attempts, "b_stats": stats,
                  "b_now": utcnow()}
        if session.connection().execute(_complete_statement(dialect), params).rowcount != 1:
            session.rollback()
            return False
        if model is not None:
            session.add(model)
            session.flush()
            session.execute(sa.update(GenerationJob).where(col(GenerationJob.id) == job.id)
                            .values(model_id=model.id).execution_options(synchronize_session=False))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return True


def fail_job(session: Session, *, job: GenerationJob, code: str, message: str,
             stats: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> bool:
    """Give up on the job; commits. False when the claim was lost.

    Users see the message of ``code`` filled with ``params`` (core.errors.render_code), in their
    language; ``message`` is the English detail for operators.
    """
    values: dict[str, Any] = {"status": JobStatus.FAILED, "finished_at": _now(session), "lease_expires_at": None,
                              "error_code": code[:64], "error_message": _short(message), "error_params": params}
    if stats is not None:
        values["stats"] = stats
    _single_statement(session)
    ok = _fenced_update(session, job, **values)
    session.commit()
    return ok


def retry_job(session: Session, *, job: GenerationJob, delay_seconds: float, code: str, message: str,
              count_attempt: bool = True, stats: dict[str, Any] | None = None) -> bool:
    """Put the job back in the queue, due after ``delay_seconds``; commits. False when the claim was lost.

    ``count_attempt=False`` gives the attempt back (a transient error or a shutdown is not the job's fault).
    """
    values: dict[str, Any] = {"status": JobStatus.QUEUED, "run_after": _later(session, delay_seconds),
                              "lease_expires_at": None, "worker_id": None, "error_code": code[:64],
                              "error_message": _short(message), "progress_stage": None, "progress_pct": 0}
    if not count_attempt:
        values["attempts"] = col(GenerationJob.attempts) - 1
    if stats is not None:
        values["stats"] = stats
    _single_statement(session)
    ok = _fenced_update(session, job, **values)
    session.commit()
    return ok


def release_job(session: Session, *, job: GenerationJob) -> bool:
    """Hand a job back untouched at shutdown: queued at once, the attempt not counted; commits."""
    values: dict[str, Any] = {"status": JobStatus.QUEUED, "run_after": None, "lease_expires_at": None,
                              "worker_id": None, "attempts": col(GenerationJob.attempts) - 1,
                              "progress_stage": None, "progress_pct": 0}
    _single_statement(session)
    ok = _fenced_update(session, job, **values)
    session.commit()
    return ok


def recover_stalled(session: Session) -> dict[str, int]:
    """Jobs whose lease expired (their worker died): back to the queue, or failed after max attempts; commits."""
    now = _now(session)
    expired = sa.and_(col(GenerationJob.status) == JobStatus.RUNNING, col(GenerationJob.lease_expires_at) < now)
    exhausted = col(GenerationJob.attempts) >= col(GenerationJob.max_attempts)
    failed = session.execute(
        sa.update(GenerationJob).where(expired, exhausted)
        .values(status=JobStatus.FAILED, finished_at=now, lease_expires_at=None, error_code=WorkerLost.code,
                error_message="The worker running this job stopped responding too many times; it was not "
                              "retried again.")
        .returning(col(GenerationJob.id)).execution_options(synchronize_session=False)).scalars().all()
    requeued = session.execute(
        sa.update(GenerationJob).where(expired, sa.not_(exhausted))
        .values(status=JobStatus.QUEUED, lease_expires_at=None, worker_id=None, run_after=None,
                progress_stage=None, progress_pct=0, error_code="worker_lost",
                error_message="The worker running this job stopped; it was put back in the queue.")
        .returning(col(GenerationJob.id)).execution_options(synchronize_session=False)).scalars().all()
    session.commit()
    if failed or requeued:
        log.warning("Recovered stalled jobs: requeued %s, failed %s", list(requeued), list(failed))
    return {"requeued": len(requeued), "failed": len(failed)}


def queued_count(session: Session) -> int:
    """Jobs waiting, due or not."""
    return int(session.exec(select(sa.func.count()).select_from(GenerationJob)
                            .where(col(GenerationJob.status) == JobStatus.QUEUED)).one())
