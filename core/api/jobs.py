"""What ``POST /api/v1/jobs`` does: the upload page's path (validate, store, enqueue), plus Idempotency-Key.

An Idempotency-Key is claimed in the database before anything is stored (a unique row per user
and key), so two processes that get the same retry at once make one job: the second sees the
claim and answers with that job, or with "still in progress" while the first is not done.
A request that was refused frees its key again, so that a corrected retry may reuse it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.api.errors import IdempotencyKeyReused
from core.content import uploads
from core.errors import ValidationError
from core.i18n import N_
from core.jobs import queue
from core.models import GenerationJob, IdempotencyRecord, User, pk, utcnow

MAX_IMAGES = 64
MAX_IDEMPOTENCY_KEY_CHARS = 255
IDEMPOTENCY_HOURS = 24  # a key is remembered this long


class IdempotencyInProgress(ValidationError):
    """A request with this Idempotency-Key is still being processed. Try again in a moment."""

    code = "idempotency_in_progress"


class TooManyImages(ValidationError):
    """Send 1 to {limit} images in the images field."""

    code = "too_many_images"


def check_options(*, mode: str, options: dict[str, Any]) -> None:
    """Refuse options the engine would refuse later, now (422), using the engine's own checks."""
    from core.generation.options import GenerationOptions

    allowed = {k: v for k, v in options.items() if k in queue.USER_OPTIONS}
    if mode not in queue.MODES:
        from core.jobs.errors import UnknownMode

        raise UnknownMode()
    GenerationOptions(mode=mode, **allowed).validate()


def request_hash(*, mode: str, name: str, options: dict[str, Any], files: Sequence[tuple[str, bytes]]) -> str:
    described = {"mode": mode, "name": name, "options": options,
                 "files": [[filename, hashlib.sha256(data).hexdigest()] for filename, data in files]}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def _claim_key(session: Session, *, user_id: int, key: str, digest: str) -> GenerationJob | None:
    """Claim ``key`` for this request; the earlier job when it is a retry of one already made."""
    stale = utcnow() - timedelta(hours=IDEMPOTENCY_HOURS)
    session.execute(sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == user_id,
                                                       col(IdempotencyRecord.key) == key,
                                                       col(IdempotencyRecord.created_at) < stale))
    session.add(IdempotencyRecord(user_id=user_id, key=key, request_hash=digest))
    try:
        session.commit()
        return None
    except sa.exc.IntegrityError:
        session.rollback()
    found = session.exec(select(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == user_id,
                                                         col(IdempotencyRecord.key) == key)).first()
    if found is None:  # freed by a refused request a moment ago
        raise IdempotencyInProgress()
    if found.request_hash != digest:
        raise IdempotencyKeyReused()
    if found.job_id is None:
        raise IdempotencyInProgress()
    return queue.get_job(session, job_id=found.job_id, user_id=user_id)


def _release_key(session: Session, *, user_id: int, key: str) -> None:
    session.rollback()
    session.execute(sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == user_id,
                                                       col(IdempotencyRecord.key) == key,
                                                       col(IdempotencyRecord.job_id).is_(None)))
    session.commit()


def create_job(session: Session, *, user: User, files: Sequence[tuple[str, bytes]], mode: str,
               options: dict[str, Any], name: str = "", idempotency_key: str | None = None,
               client: Any = None) -> tuple[GenerationJob, bool]:
    """Validate, store and queue like the upload page; returns the job and whether it is an earlier one (a retry)."""
    if not 1 <= len(files) <= MAX_IMAGES:
        raise TooManyImages(limit=MAX_IMAGES)
    key = (idempotency_key or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise ValidationError(N_("The Idempotency-Key is too long (at most {limit} characters)."),
                              limit=MAX_IDEMPOTENCY_KEY_CHARS)
    user_id = pk(user)
    if key:
        earlier = _claim_key(session, user_id=user_id, key=key,
                             digest=request_hash(mode=mode, name=name, options=options, files=files))
        if earlier is not None:
            return earlier, True
    try:
        check_options(mode=mode, options=options)
        images = [uploads.validate_upload(data, filename=filename, plan=user.plan) for filename, data in files]
        job = uploads.submit_generation(session, user=user, images=images, mode=mode, options=options, name=name,
                                        client=client)
    except BaseException:
        if key:
            _release_key(session, user_id=user_id, key=key)
        raise
    if key:
        session.execute(sa.update(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == user_id,
                                                           col(IdempotencyRecord.key) == key)
                        .values(job_id=job.id))
        session.commit()
    return job, False


def purge_old_keys(session: Session) -> int:
    """Forget Idempotency-Keys older than IDEMPOTENCY_HOURS; commits."""
    stale = utcnow() - timedelta(hours=IDEMPOTENCY_HOURS)
    n = session.execute(sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < stale)).rowcount  # type: ignore[attr-defined]
    session.commit()
    return int(n or 0)

