"""The generation job queue: every database operation on jobs, workers and maintenance runs.

The web UI enqueues and reads; the worker claims, renews, completes and fails.
The worker never writes SQL itself (procrastinate's manager/worker split).

Claiming on PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` inside one
``UPDATE ... RETURNING`` statement, so any number of workers on any number of
machines each get different jobs. On SQLite the same statement re-checks
``status='queued'`` and SQLite runs one writer at a time, which is safe for
one worker process with any concurrency.

A claim is fenced: a worker may only change a job while it is ``running``,
still carries that worker's id and the attempt number it was claimed with.
A worker whose lease expired (and whose job went back to the queue or to
another worker) therefore cannot complete or fail it any more.

Limits at enqueue (all from settings, per tier):

- a daily quota of generations, counted from 00:00 UTC. Jobs that failed, and
  jobs cancelled before they started, do not count: the user got nothing;
- at most ``max_running_jobs_per_user`` jobs *queued or running* at once.
  Queued jobs count too, because otherwise one account could fill the queue
  ahead of everyone of the same tier; the refusal says to wait or cancel;
- at most the tier's ``max_views`` images for one job.

    core.errors.QuotaExceeded
    ├── DailyQuotaReached       code "daily_quota"
    ├── TooManyActiveJobs       code "too_many_running"
    └── TooManyViews            code "too_many_views"
    core.errors.ValidationError
    ├── NoImages                code "no_images"
    ├── UnknownMode             code "unknown_mode"
    ├── UnknownOption           code "unknown_option"
    └── JobNotRequeueable       code "not_requeueable"
    core.errors.NotFound
    └── JobNotFound             code "job_not_found"
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit import audit
from core.config import get_settings
from core.errors import NotFound, QuotaExceeded, ValidationError
from core.models import (
    GenerationJob,
    JobStatus,
    MaintenanceRun,
    Upload,
    User,
    UTCDateTime,
    WorkerHeartbeat,
    utcnow,
)

log = logging.getLogger(__name__)

JOBS: sa.Table = GenerationJob.__table__  # type: ignore[attr-defined]

MODES = ("auto", "inflate", "relief", "carve")
#: Options a user may set; resolution and device are decided by the tier and the worker.
USER_OPTIONS = frozenset({"faces", "size_mm", "fov_deg", "lithophane", "relief_base_mm", "relief_height_mm",
                          "engine", "formats"})
ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
RETRY_BASE_SECONDS = 2.0  # first retry after a crash or a transient error; doubles per attempt
RETRY_MAX_SECONDS = 300.0  # backoff ceiling
TRANSIENT_MAX_RETRIES = 8  # transient errors do not use up attempts, but do give up eventually
ERROR_MESSAGE_CHARS = 1000  # the column's width

#: Failure codes that are our fault, not the input's.
SYSTEM_FAILURE_CODES = frozenset({"worker_lost", "crashed", "transient"})


# --- errors ---------------------------------------------------------------


class DailyQuotaReached(QuotaExceeded):
    """You have used all {limit} generations of your plan for today. Try again after midnight (UTC), or upgrade to premium for more."""  # noqa: E501

    code = "daily_quota"


class TooManyActiveJobs(QuotaExceeded):
    """You already have {limit} generations queued or running. Wait until one has finished, or cancel one, then try again."""  # noqa: E501

    code = "too_many_running"


class TooManyViews(QuotaExceeded):
    """Your plan allows at most {limit} images per model; you gave {given}. Use fewer images, or upgrade to premium for up to {premium} views."""  # noqa: E501

    code = "too_many_views"


class NoImages(ValidationError):
    """Choose at least one image."""

    code = "no_images"


class UnknownMode(ValidationError):
    """Unknown mode: use auto, inflate, relief or carve."""

    code = "unknown_mode"


class UnknownOption(ValidationError):
    """Unknown generation option {name!r}."""

    code = "unknown_option"


class JobNotFound(NotFound):
    """That generation job does not exist."""

    code = "job_not_found"


class JobNotRequeueable(ValidationError):
    """Job {job_id} is {status}; only failed or cancelled jobs can be requeued."""

    code = "not_requeueable"


# --- helpers --------------------------------------------------------------


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _now(session: Session) -> Any:
    """The database clock on PostgreSQL (workers on many machines agree on it), else this process's."""
    if _is_pg(session):
        return sa.func.now()
    return sa.literal(utcnow(), UTCDateTime())


def _later(session: Session, seconds: float) -> Any:
    if _is_pg(session):
        return sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, float(seconds))
    return sa.literal(utcnow() + timedelta(seconds=seconds), UTCDateTime())


def backoff_seconds(attempt: int) -> float:
    """Delay before retry number ``attempt`` (1-based): 2, 4, 8 ... seconds, at most 5 minutes."""
    return float(min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1)))


def _start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _fence(job: GenerationJob) -> Any:
    return sa.and_(col(GenerationJob.id) == job.id, col(GenerationJob.status) == JobStatus.RUNNING,
                   col(GenerationJob.worker_id) == job.worker_id, col(GenerationJob.attempts) == job.attempts)


def _single_statement(session: Session) -> None:
    """Run the session's next statement without BEGIN/COMMIT round trips, when it is the only one.

    One statement is atomic on its own; the queue's hot path (claim, complete, fail) is one
    statement each, and two fewer round trips per call is most of a job's overhead.
    """
    if not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _fenced_update(session: Session, job: GenerationJob, **values: Any) -> bool:
    # Core, not the ORM: this is the hot path, and no loaded object needs to follow the change.
    result = session.connection().execute(sa.update(JOBS).where(_fence(job)).values(**values))
    return int(result.rowcount or 0) == 1


def _short(text: str) -> str:
    return text if len(text) <= ERROR_MESSAGE_CHARS else text[: ERROR_MESSAGE_CHARS - 1] + "…"


# --- enqueue and read (the web UI) ----------------------------------------


def quota_left_today(session: Session, *, user: User) -> int:
    """Generations the user may still start today (UTC)."""
    limit = int(get_settings().tier(user.plan)["daily_generations"])
    return max(0, limit - _used_today(session, user_id=int(user.id or 0)))


def _used_today(session: Session, *, user_id: int) -> int:
    since = _start_of_day(utcnow())
    cancelled_unstarted = sa.and_(col(GenerationJob.status) == JobStatus.CANCELLED,
                                  col(GenerationJob.started_at).is_(None))
    query = (select(sa.func.count()).select_from(GenerationJob)
             .where(col(GenerationJob.user_id) == user_id, col(GenerationJob.created_at) >= since)
             .where(col(GenerationJob.status) != JobStatus.FAILED, sa.not_(cancelled_unstarted)))
    return int(session.exec(query).one())


def _active_count(session: Session, *, user_id: int) -> int:
    query = (select(sa.func.count()).select_from(GenerationJob)
             .where(col(GenerationJob.user_id) == user_id, col(GenerationJob.status).in_(ACTIVE_STATUSES)))
    return int(session.exec(query).one())


def _lock_user(session: Session, user_id: int) -> None:
    # Serialises one user's enqueues so that two tabs cannot both pass the limits.
    # On SQLite the write also takes the database's write lock up front, before any read,
    # which avoids a failed lock upgrade later in the transaction.
    session.execute(sa.update(User).where(col(User.id) == user_id).values(updated_at=col(User.updated_at))
                    .execution_options(synchronize_session=False))


def enqueue_generation(session: Session, *, user: User, upload_ids: list[int], mode: str,
                       options: dict[str, Any], name: str = "") -> GenerationJob:
    """Check the user's limits and queue a generation; commits. Raises QuotaExceeded or ValidationError.

    Call it with no writes pending in ``session``: it rolls back on refusal.
    """
    settings = get_settings()
    tier = settings.tier(user.plan)
    user_id = int(user.id or 0)
    ids = [int(i) for i in upload_ids]
    if not ids:
        raise NoImages()
    if len(set(ids)) != len(ids):
        raise ValidationError("The same image was given twice.")
    if mode not in MODES:
        raise UnknownMode()
    for key in options:
        if key not in USER_OPTIONS:
            raise UnknownOption(name=key)
    if mode in ("carve", "auto") and len(ids) > int(tier["max_views"]):
        raise TooManyViews(limit=tier["max_views"], given=len(ids), premium=settings.premium_max_views)

    _lock_user(session, user_id)
    try:
        found = set(session.exec(select(col(Upload.id)).where(col(Upload.id).in_(ids),
                                                         col(Upload.user_id) == user_id)).all())
        if found != set(ids):
            raise NotFound("One of the images was not found; upload it again.")
        if _used_today(session, user_id=user_id) >= int(tier["daily_generations"]):
            raise DailyQuotaReached(limit=tier["daily_generations"])
        if _active_count(session, user_id=user_id) >= settings.max_running_jobs_per_user:
            raise TooManyActiveJobs(limit=settings.max_running_jobs_per_user)
        job_options = dict(options)
        # The tier at enqueue time decides the resolution; a later downgrade does not shrink a queued job.
        job_options["resolution"] = int(tier["resolution_px"])
        job = insert_job(session, user_id=user_id, upload_ids=ids, mode=mode, options=job_options,
                         name=name.strip()[:255], priority=int(tier["priority"]))
        audit(session, "job.enqueued", user_id=user_id, job_id=job.id, mode=mode, views=len(ids))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return job


def insert_job(session: Session, *, user_id: int, upload_ids: list[int], mode: str = "auto",
               options: dict[str, Any] | None = None, name: str = "", priority: int = 0) -> GenerationJob:
    """Add a queued job without any checks (flushes, does not commit). Tests and benchmarks use it directly."""
    job = GenerationJob(user_id=user_id, upload_ids=list(upload_ids), mode=mode, options=dict(options or {}),
                        name=name, priority=priority, status=JobStatus.QUEUED,
                        max_attempts=get_settings().job_max_attempts)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, *, job_id: int, user_id: int | None) -> GenerationJob:
    """The job, if it belongs to ``user_id`` (None: an operator, any job). Raises JobNotFound."""
    job = session.get(GenerationJob, int(job_id), populate_existing=True)
    if job is None or (user_id is not None and job.user_id != user_id):
        raise JobNotFound()
    return job


def list_jobs(session: Session, *, user_id: int | None, status: str | None = None, limit: int = 50,
              offset: int = 0) -> list[GenerationJob]:
    """Newest first. ``user_id`` None lists everyone's (operators)."""
    query = select(GenerationJob)
    if user_id is not None:
        query = query.where(col(GenerationJob.user_id) == user_id)
    if status:
        query = query.where(col(GenerationJob.status) == status)
    query = query.order_by(col(GenerationJob.id).desc()).limit(limit).offset(offset)
    return list(session.exec(query.execution_options(populate_existing=True)).all())


def queue_position(session: Session, *, job: GenerationJob) -> int | None:
    """How many queued jobs a worker will claim before this one (0: next); None unless it is queued."""
    if job.status != JobStatus.QUEUED:
        return None
    ahead = sa.or_(col(GenerationJob.priority) > job.priority,
                   sa.and_(col(GenerationJob.priority) == job.priority, col(GenerationJob.id) < job.id))
    query = (select(sa.func.count()).select_from(GenerationJob)
             .where(col(GenerationJob.status) == JobStatus.QUEUED, ahead))
    return int(session.exec(query).one())


def cancel_job(session: Session, *, job_id: int, user_id: int | None) -> GenerationJob:
    """Withdraw a queued or running job; commits. A running job's worker notices and discards its result."""
    job = get_job(session, job_id=job_id, user_id=user_id)
    if job.status not in ACTIVE_STATUSES:
        return job
    result = session.execute(
        sa.update(GenerationJob)
        .where(col(GenerationJob.id) == job.id, col(GenerationJob.status).in_(ACTIVE_STATUSES))
        .values(status=JobStatus.CANCELLED, finished_at=_now(session), lease_expires_at=None,
                error_code="cancelled", error_message="Cancelled.")
        .execution_options(synchronize_session=False))
    if result.rowcount:  # type: ignore[attr-defined]
        audit(session, "job.cancelled", user_id=job.user_id, job_id=job.id)
    session.commit()
    return get_job(session, job_id=job_id, user_id=user_id)


def requeue(session: Session, *, job_id: int) -> GenerationJob:
    """Put a failed or cancelled job back in the queue with fresh attempts (operators); commits."""
    job = get_job(session, job_id=job_id, user_id=None)
    result = session.execute(
        sa.update(GenerationJob)
        .where(col(GenerationJob.id) == job.id,
               col(GenerationJob.status).in_((JobStatus.FAILED, JobStatus.CANCELLED)))
        .values(status=JobStatus.QUEUED, attempts=0, run_after=None, lease_expires_at=None, worker_id=None,
                error_code=None, error_message=None, progress_stage=None, progress_pct=0, finished_at=None)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        raise JobNotRequeueable(job_id=job.id, status=job.status)
    audit(session, "job.requeued", user_id=job.user_id, actor="operator", job_id=job.id)
    session.commit()
    return get_job(session, job_id=job_id, user_id=None)


# --- claiming and finishing (the worker) ----------------------------------


@functools.cache
def _claim_statement(dialect: str, limit: int) -> Any:
    # Built once per dialect and batch size: the claim is the hot path, and building and
    # cache-keying a statement costs more CPU than PostgreSQL spends running it.
    if dialect == "postgresql":
        now: Any = sa.func.now()
        until: Any = now + sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.bindparam("b_lease", type_=sa.Float))
    else:
        now = sa.bindparam("b_now", type_=UTCDateTime())
        until = sa.bindparam("b_until", type_=UTCDateTime())
    due = sa.or_(JOBS.c.run_after.is_(None), JOBS.c.run_after <= now)
    pick = (sa.select(JOBS.c.id).where(JOBS.c.status == JobStatus.QUEUED, due)
            .order_by(JOBS.c.priority.desc(), JOBS.c.id).limit(limit))
    if dialect == "postgresql":
        # SKIP LOCKED: concurrent claimers pass over rows another transaction is taking.
        pick = pick.with_for_update(skip_locked=True)
    picked = pick.cte("picked")
    return (sa.update(JOBS)
            .where(JOBS.c.id == picked.c.id, JOBS.c.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, attempts=JOBS.c.attempts + 1, worker_id=sa.bindparam("b_worker_id"),
                    lease_expires_at=until, progress_stage="claimed",
                    started_at=sa.func.coalesce(JOBS.c.started_at, now), error_code=None, error_message=None)
            .returning(*JOBS.c))


def claim_jobs(session: Session, *, worker_id: str, limit: int = 1,
               lease_seconds: float | None = None) -> list[GenerationJob]:
    """Take up to ``limit`` due jobs, highest priority then oldest first, under a lease; commits."""
    lease = float(lease_seconds if lease_seconds is not None else get_settings().job_lease_seconds)
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {"b_worker_id": worker_id}
    if dialect == "postgresql":
        params["b_lease"] = lease
    else:
        params["b_now"] = utcnow()
        params["b_until"] = params["b_now"] + timedelta(seconds=lease)
    _single_statement(session)
    try:
        rows = session.connection().execute(_claim_statement(dialect, int(limit)), params).all()
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
             stats: dict[str, Any] | None = None) -> bool:
    """Give up on the job with a reason the user sees; commits. False when the claim was lost."""
    values: dict[str, Any] = {"status": JobStatus.FAILED, "finished_at": _now(session), "lease_expires_at": None,
                              "error_code": code[:64], "error_message": _short(message)}
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
        .values(status=JobStatus.FAILED, finished_at=now, lease_expires_at=None, error_code="worker_lost",
                error_message="The worker running this job stopped responding too many times; it was not "
                              "retried again. Try again later or contact support.")
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


# --- workers and maintenance ----------------------------------------------


def heartbeat(session: Session, *, worker_id: str, hostname: str = "", pid: int = 0, device: str = "cpu") -> None:
    """Record that this worker is alive; commits."""
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        session.add(WorkerHeartbeat(worker_id=worker_id, hostname=hostname[:255], pid=pid, device=device[:64]))
    else:
        row.last_seen_at = utcnow()
        session.add(row)
    session.commit()


def remove_heartbeat(session: Session, *, worker_id: str) -> None:
    session.execute(sa.delete(WorkerHeartbeat).where(col(WorkerHeartbeat.worker_id) == worker_id))
    session.commit()


def _lock_key(name: str) -> int:
    # A stable signed 63-bit key per name for PostgreSQL's advisory locks.
    return int.from_bytes(hashlib.sha256(f"vorm:{name}".encode()).digest()[:8], "big", signed=True)


def claim_maintenance(session: Session, *, name: str, slot: str, worker_id: str) -> MaintenanceRun | None:
    """Take the slot of a scheduled job for this worker; None when another worker has (or had) it. Commits.

    On PostgreSQL an advisory lock makes concurrent claimers skip at once instead of waiting on the
    unique index; the unique (name, slot) row is what makes it run once per slot, on SQLite too.
    """
    try:
        if _is_pg(session):
            got = session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _lock_key(name)}).scalar()
            if not got:
                session.rollback()
                return None
        exists = session.exec(select(col(MaintenanceRun.id)).where(col(MaintenanceRun.name) == name,
                                                              col(MaintenanceRun.slot) == slot)).first()
        if exists is not None:
            session.rollback()
            return None
        run = MaintenanceRun(name=name, slot=slot, worker_id=worker_id)
        session.add(run)
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    session.expunge(run)
    return run


def finish_maintenance(session: Session, *, run: MaintenanceRun, result: dict[str, Any]) -> None:
    session.execute(sa.update(MaintenanceRun).where(col(MaintenanceRun.id) == run.id)
                    .values(finished_at=_now(session), result=result)
                    .execution_options(synchronize_session=False))
    session.commit()


@contextlib.contextmanager
def singleton(name: str, *, engine: sa.Engine | None = None) -> Iterator[bool]:
    """Yields True in at most one worker of the fleet at a time (PostgreSQL advisory lock); True on SQLite.

    For frequent ticks such as outbox delivery, where two workers at once would send a mail twice.
    The lock lives on its own connection, held until the block ends; if that connection dies,
    PostgreSQL releases the lock with it.
    """
    from core.db import get_engine

    engine = engine or get_engine()
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(name.encode()) & 0x7FFFFFFF  # a different key space from claim_maintenance's 64-bit keys
    with engine.connect() as conn:
        got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(1, :k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.execute(sa.text("SELECT pg_advisory_unlock(1, :k)"), {"k": key})
                    conn.commit()


@dataclass(frozen=True)
class Slots:
    """The maintenance slot names for a moment: one per UTC day, one per UTC hour."""

    daily: str
    hourly: str

    @classmethod
    def at(cls, now: datetime) -> Slots:
        t = now.astimezone(UTC)
        return cls(daily=t.strftime("%Y-%m-%d"), hourly=t.strftime("%Y-%m-%dT%H"))
