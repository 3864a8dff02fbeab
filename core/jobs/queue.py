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

Claiming and finishing are in ``core.jobs.claims``; heartbeats and maintenance slots in
``core.jobs.fleet``; the refusals in ``core.jobs.errors``.
"""


from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.audit import audit, user_actor
from core.config import get_settings
from core.errors import NotFound, ValidationError
from core.i18n import N_
from core.jobs.errors import (
    BoxNotApplicable,
    DailyQuotaReached,
    JobCancelled,
    JobNotFound,
    JobNotRequeueable,
    NoImages,
    TooManyActiveJobs,
    TooManyViews,
    UnknownMode,
    UnknownOption,
)
from core.models import (
    GenerationJob,
    JobStatus,
    Upload,
    User,
    UTCDateTime,
    utcnow,
)
from core.text import single_line

log = logging.getLogger(__name__)

JOBS: sa.Table = GenerationJob.__table__  # type: ignore[attr-defined]



MODES = ("auto", "inflate", "relief", "carve")
#: Options a user may set; resolution and device are decided by the tier and the worker.
USER_OPTIONS = frozenset({"faces", "size_mm", "fov_deg", "elevation_deg", "lithophane", "relief_base_mm",
                          "relief_height_mm", "engine", "formats", "box"})
ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
RETRY_BASE_SECONDS = 2.0  # first retry after a crash or a transient error; doubles per attempt
RETRY_MAX_SECONDS = 300.0  # backoff ceiling
ERROR_MESSAGE_CHARS = 1000  # the column's width

#: Failure codes that are our fault, not the input's.
SYSTEM_FAILURE_CODES = frozenset({"worker_lost", "crashed", "transient", "transient_gave_up"})




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


def generations_used_today(session: Session, *, user: User) -> int:
    """Generations that count against today's (UTC) limit: failed ones and ones cancelled unstarted do not."""
    return _used_today(session, user_id=int(user.id or 0))


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


def _check_request(*, user: User, views: int, mode: str, options: dict[str, Any]) -> None:
    """The refusals that need no database: images, mode, options, views per plan."""
    settings = get_settings()
    tier = settings.tier(user.plan)
    if views < 1:
        raise NoImages()
    if mode not in MODES:
        raise UnknownMode()
    for key in options:
        if key not in USER_OPTIONS:
            raise UnknownOption(name=key)
    if mode == "carve" and views < 2:
        from core.generation.errors import TooFewViews

        raise TooFewViews()
    if options.get("box") is not None:
        if views != 1 or mode not in ("auto", "inflate"):
            raise BoxNotApplicable()
        from core.generation.options import GenerationOptions

        GenerationOptions(box=options["box"]).validate()  # a box that cannot be used is refused now, not later
    if mode in ("carve", "auto") and views > int(tier["max_views"]):
        raise TooManyViews(limit=tier["max_views"], given=views, premium=settings.premium_max_views)


def _check_counts(session: Session, *, user: User) -> None:
    """The refusals that count the user's jobs: today's quota, jobs queued or running."""
    settings = get_settings()
    tier = settings.tier(user.plan)
    user_id = int(user.id or 0)
    if _used_today(session, user_id=user_id) >= int(tier["daily_generations"]):
        raise DailyQuotaReached(limit=tier["daily_generations"])
    if _active_count(session, user_id=user_id) >= settings.max_running_jobs_per_user:
        raise TooManyActiveJobs(limit=settings.max_running_jobs_per_user)


def check_limits(session: Session, *, user: User, views: int, mode: str, options: dict[str, Any]) -> None:
    """Raise what ``enqueue_generation`` would refuse a job of ``views`` new images with; reads only.

    For callers that must store files before they can enqueue (the upload page): refuse first, so
    that a refusal stores nothing. ``enqueue_generation`` checks again under the user's lock.
    """
    _check_request(user=user, views=views, mode=mode, options=options)
    _check_counts(session, user=user)


def enqueue_generation(session: Session, *, user: User, upload_ids: list[int], mode: str,
                       options: dict[str, Any], name: str = "", new_uploads: Sequence[Upload] = (),
                       actor: str | None = None) -> GenerationJob:
    """Check the user's limits and queue a generation; commits. Raises QuotaExceeded or ValidationError.

    ``actor`` (the audit log's) is the user unless someone else starts it for them (the operator's CLI).

    ``new_uploads`` are Upload rows not yet in the database (their files already stored); they are
    inserted in the same transaction as the job, so a refusal leaves neither. Call it with no other
    writes pending in ``session``: it rolls back on refusal.
    """
    user_id = int(user.id or 0)
    ids = [int(i) for i in upload_ids]
    if len(set(ids)) != len(ids):
        raise ValidationError(N_("The same image was given twice."))
    _check_request(user=user, views=len(ids) + len(new_uploads), mode=mode, options=options)
    tier = get_settings().tier(user.plan)

    _lock_user(session, user_id)
    try:
        found = set(session.exec(select(col(Upload.id)).where(col(Upload.id).in_(ids),
                                                         col(Upload.user_id) == user_id)).all()) if ids else set()
        if found != set(ids):
            raise NotFound(N_("One of the images was not found; upload it again."))
        _check_counts(session, user=user)
        if new_uploads:
            if any(u.user_id != user_id for u in new_uploads):
                raise ValueError("new uploads must belong to the user")
            session.add_all(new_uploads)
            session.flush()
            ids += [int(u.id or 0) for u in new_uploads]
        job_options = dict(options)
        # The tier at enqueue time decides the resolution; a later downgrade does not shrink a queued job.
        job_options["resolution"] = int(tier["resolution_px"])
        job = insert_job(session, user_id=user_id, upload_ids=ids, mode=mode, options=job_options,
                         name=single_line(name)[:255], priority=int(tier["priority"]))
        audit(session, "job.enqueued", user_id=user_id, actor=actor or user_actor(user_id), job_id=job.id, mode=mode,
              views=len(ids))
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
              offset: int = 0, before_id: int | None = None) -> list[GenerationJob]:
    """Newest first. ``user_id`` None lists everyone's (operators). ``before_id``: only older jobs (a cursor)."""
    query = select(GenerationJob)
    if user_id is not None:
        query = query.where(col(GenerationJob.user_id) == user_id)
    if before_id is not None:
        query = query.where(col(GenerationJob.id) < before_id)
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
                error_code=JobCancelled.code, error_message="Cancelled.")
        .execution_options(synchronize_session=False))
    if result.rowcount:  # type: ignore[attr-defined]
        actor = user_actor(user_id) if user_id is not None else "operator"
        audit(session, "job.cancelled", user_id=job.user_id, actor=actor, job_id=job.id)
    session.commit()
    return get_job(session, job_id=job_id, user_id=user_id)


def requeue(session: Session, *, job_id: int, actor: str = "operator", **details: Any) -> GenerationJob:
    """Put a failed or cancelled job back in the queue with fresh attempts (operators); commits.

    ``actor`` and ``details`` (an admin's reason) go into the audit row."""
    job = get_job(session, job_id=job_id, user_id=None)
    result = session.execute(
        sa.update(GenerationJob)
        .where(col(GenerationJob.id) == job.id,
               col(GenerationJob.status).in_((JobStatus.FAILED, JobStatus.CANCELLED)))
        .values(status=JobStatus.QUEUED, attempts=0, run_after=None, lease_expires_at=None, worker_id=None,
                error_code=None, error_message=None, error_params=None, progress_stage=None, progress_pct=0,
                finished_at=None)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        raise JobNotRequeueable(job_id=job.id, status=job.status)
    audit(session, "job.requeued", user_id=job.user_id, actor=actor, job_id=job.id, **details)
    session.commit()
    return get_job(session, job_id=job_id, user_id=None)
