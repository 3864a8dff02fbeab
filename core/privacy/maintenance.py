"""The worker's entry points into privacy: the frequent tick (exports, erasures, new policy
versions) and the daily maintenance (retention purge, IP truncation, cleanups)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from core.db import get_session
from core.models import (
    PolicyVersion,
    PrivacyRequest,
    utcnow,
)
from core.privacy import policy, retention
from core.privacy.announce import publish_policies
from core.privacy.erasure import ERASURE_RETRY_AFTER_SECONDS, erase_user
from core.privacy.exports import EXPORT_STALE_MINUTES, build_export
from core.storage import Storage, get_storage

log = logging.getLogger(__name__)

# --- the worker's entry points ------------------------------------------------------


_published_here: set[str] = set()  # versions this process has seen published: no query for them again


def publish_new_policies() -> list[dict[str, Any]]:
    """Publish versions added to versions.toml since the last deploy; nothing when all are known."""
    wanted = {v.version for v in policy.all_versions()}
    if wanted <= _published_here:
        return []
    with get_session() as session:
        published = publish_policies(session)
        _published_here.update(session.exec(select(PolicyVersion.version)).all())
    return published


def tick(*, storage: Storage | None = None) -> dict[str, int]:
    """Build pending exports, finish interrupted erasures, publish new policy versions. Cheap when idle."""
    now = utcnow()
    try:
        publish_new_policies()
    except Exception:
        log.exception("publishing new policy versions failed; retrying on a later tick")
    with get_session() as session:
        exports = session.exec(
            select(PrivacyRequest.id).where(PrivacyRequest.kind == "access")
            .where(sa.or_(col(PrivacyRequest.status) == "pending",
                          sa.and_(col(PrivacyRequest.status) == "processing",
                                  col(PrivacyRequest.created_at) < now - timedelta(minutes=EXPORT_STALE_MINUTES))))
            .order_by(col(PrivacyRequest.id)).limit(10)
        ).all()
        erasures = session.exec(
            select(PrivacyRequest.user_id).where(PrivacyRequest.kind == "deletion")
            .where(PrivacyRequest.status == "processing")
            .where(col(PrivacyRequest.created_at) < now - timedelta(seconds=ERASURE_RETRY_AFTER_SECONDS))
            .distinct().limit(10)
        ).all()
    result = {"exports": 0, "erasures": 0, "errors": 0}
    for request_id in exports:
        try:
            if build_export(int(request_id), storage=storage) == "done":  # type: ignore[arg-type]
                result["exports"] += 1
        except Exception:
            result["errors"] += 1
    for user_id in erasures:
        try:
            erase_user(int(user_id), storage=storage)
            result["erasures"] += 1
        except Exception:
            log.exception("erasure of user %s failed; retrying on a later tick", user_id)
            result["errors"] += 1
    return result


def daily_maintenance(now: datetime | None = None, *, storage: Storage | None = None) -> dict[str, Any]:
    """Once a day per fleet: retention purge, IP truncation, export and token cleanup.

    Each part runs even when an earlier one failed; failures are reported in "errors".
    """
    now = now or utcnow()
    storage = storage or get_storage()
    out: dict[str, Any] = {"errors": {}}
    steps = {
        "purge": lambda s: retention.purge_expired(s, now=now, storage=storage).as_dict(),
        "access_log": lambda s: retention.truncate_access_ips(s, now=now),
        "exports": lambda s: retention.cleanup_exports(s, now=now, storage=storage),
        "tokens": lambda s: retention.cleanup_tokens_and_sessions(s, now=now),
    }
    for name, step in steps.items():
        with get_session() as session:
            try:
                out[name] = step(session)
            except Exception as exc:
                session.rollback()
                log.exception("daily maintenance step %s failed", name)
                out["errors"][name] = f"{type(exc).__name__}: {exc}"[:500]
    return out
