"""Claiming and finishing jobs (the worker side of the queue): claims under a lease, renewals,
fenced completion, failure, retry with backoff, release at shutdown, recovery of stalled jobs.

A worker's slot runs inside ``claim_next_on_finish``: on PostgreSQL, completing or failing its job
then claims the slot's next job in the same statement (data-modifying CTEs), so a job costs the
queue one round trip instead of two. The claimed job waits in the slot's ``NextClaim`` for ``drain``.
"""


from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.config import get_settings
from core.jobs import kinds as job_kinds
from core.jobs.errors import WorkerLost
from core.jobs.queue import _fence, _fenced_update, _later, _now, _short, _single_statement
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
    if dialect == "postgresql":
        # id = ANY(ARRAY(pick)): an InitPlan that runs the pick once, then updates by primary key. A join
        # with a CTE scanned every queued row for each claim (EXPLAIN, 1,000 queued), and IN (pick) may
        # be planned as a semi-join that runs the locking LIMIT in a way that claims nothing.
        # The rows are locked by then, so the status needs no second look (which would steer the planner
        # to the partial index of queued jobs instead of the primary key).
        chosen: Any = JOBS.c.id == sa.any_(sa.func.array(pick.scalar_subquery()))
    else:
        chosen = sa.and_(JOBS.c.id.in_(pick), JOBS.c.status == JobStatus.QUEUED)
    return (sa.update(JOBS)
            .where(chosen)
            .values(status=JobStatus.RUNNING, attempts=JOBS.c.attempts + 1, worker_id=sa.bindparam("b_worker_id"),
                    lease_expires_at=until, progress_stage="claimed",
                    started_at=sa.func.coalesce(JOBS.c.started_at, now), error_code=None, error_message=None,
                    error_params=None)
            .returning(*JOBS.c))


def _claim_args(dialect: str, worker_id: str, lease_seconds: float | None,
                kinds: frozenset[str] | None) -> tuple[dict[str, Any], frozenset[str] | None, float]:
    """The claim's bind parameters, and the kinds filter with the large size (None, 0: any job)."""
    lease = float(lease_seconds if lease_seconds is not None else get_settings().job_lease_seconds)
    only = None if kinds is None or set(job_kinds.KINDS) <= set(kinds) else frozenset(kinds)
    large_pixels = job_kinds.large_pixels() if only is not None else 0.0
    params: dict[str, Any] = {"b_worker_id": worker_id}
    if dialect == "postgresql":
        params["b_lease"] = lease
    else:
        params["b_now"] = utcnow()
        params["b_until"] = params["b_now"] + timedelta(seconds=lease)
    return params, only, large_pixels


def claim_jobs(session: Session, *, worker_id: str, limit: int = 1, lease_seconds: float | None = None,
               kinds: frozenset[str] | None = None) -> list[GenerationJob]:
    """Take up to ``limit`` due jobs, highest priority then oldest first, under a lease; commits.

    ``kinds`` (core.jobs.kinds): only jobs of these kinds; None or every kind: any job.
    """
    dialect = session.get_bind().dialect.name
    params, only, large_pixels = _claim_args(dialect, worker_id, lease_seconds, kinds)
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


@dataclass
class NextClaim:
    """A slot's standing request: finishing its job also claims its next one (see the module docstring)."""

    worker_id: str
    kinds: frozenset[str] | None
    lease_seconds: float | None
    stop: threading.Event
    #: The job claimed along with the last finish; ``drain`` takes it from here and runs it.
    job: GenerationJob | None = None


_NEXT_CLAIM: contextvars.ContextVar[NextClaim | None] = contextvars.ContextVar("vorm_next_claim", default=None)


@contextlib.contextmanager
def claim_next_on_finish(*, worker_id: str, kinds: frozenset[str] | None, lease_seconds: float | None,
                         stop: threading.Event) -> Iterator[NextClaim]:
    """While the block runs (in this thread), finishing a job of this worker also claims the next one."""
    request = NextClaim(worker_id, kinds, lease_seconds, stop)
    token = _NEXT_CLAIM.set(request)
    try:
        yield request
    finally:
        _NEXT_CLAIM.reset(token)


def _wants_next(session: Session, job: GenerationJob) -> NextClaim | None:
    request = _NEXT_CLAIM.get()
    if (request is None or request.job is not None or request.stop.is_set() or job.worker_id != request.worker_id
            or session.get_bind().dialect.name != "postgresql"):
        return None
    return request


def _finish_and_claim_statement(finish: Any, kinds: frozenset[str] | None, large_pixels: float) -> Any:
    # WITH finished AS (UPDATE the job ... RETURNING id), picked AS (...), claimed AS (UPDATE next ... RETURNING *)
    # SELECT (SELECT count(*) FROM finished), claimed.* FROM (SELECT 1) LEFT JOIN claimed: always one row.
    # The two UPDATEs never touch the same row: one is running, the other queued.
    finished = finish.returning(JOBS.c.id).cte("finished")
    claimed = _claim_statement("postgresql", 1, kinds, large_pixels).cte("claimed")
    one = sa.select(sa.literal(1).label("one")).subquery("one")
    done = sa.select(sa.func.count()).select_from(finished).scalar_subquery().label("b_finished")
    return sa.select(done, *claimed.c).select_from(one.outerjoin(claimed, sa.true()))


@functools.cache
def _complete_and_claim_statement(kinds: frozenset[str] | None, large_pixels: float) -> Any:
    return _finish_and_claim_statement(_complete_statement("postgresql"), kinds, large_pixels)


def _finish_and_claim(session: Session, request: NextClaim, finish: Any | None,
                      params: dict[str, Any]) -> tuple[bool, GenerationJob | None]:
    """Run ``finish`` (a fenced UPDATE; None: completion's) and claim the slot's next job in one statement.

    Returns whether the job was finished (its fence held), and the job claimed, if any was due.
    """
    claim_params, only, large_pixels = _claim_args("postgresql", request.worker_id, request.lease_seconds,
                                                   request.kinds)
    stmt = (_complete_and_claim_statement(only, large_pixels) if finish is None
            else _finish_and_claim_statement(finish, only, large_pixels))
    row = session.connection().execute(stmt, {**params, **claim_params}).one()
    values = dict(row._mapping)
    finished = int(values.pop("b_finished")) == 1
    return finished, (GenerationJob(**values) if values["id"] is not None else None)


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
    request = _wants_next(session, job)
    claimed: GenerationJob | None = None
    try:
        dialect = session.get_bind().dialect.name
        params = {"b_job_id": job.id, "b_worker_id": job.worker_id, "b_attempts": job.attempts, "b_stats": stats,
                  "b_now": utcnow()}
        if request is not None:
            finished, claimed = _finish_and_claim(session, request, None, params)
        else:
            finished = session.connection().execute(_complete_statement(dialect), params).rowcount == 1
        if not finished:
            if request is not None and claimed is not None:
                session.commit()  # nothing of this job was written; the next job's claim must stand
                request.job = claimed
            else:
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
    if request is not None:
        request.job = claimed  # committed: it is the slot's now
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
    request = _wants_next(session, job)
    if request is None:
        ok = _fenced_update(session, job, **values)
    else:
        ok, request.job = _finish_and_claim(session, request, sa.update(JOBS).where(_fence(job)).values(**values), {})
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
