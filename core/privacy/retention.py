"""Retention: what the privacy policy lets us keep, and for how long (clause 3, and clause 1's access log).

- A free user's uploads and models go ``retention_days`` (30) after creation.
- Premium content stays while a subscription is active. When the last one ends,
  everything goes ``retention_days`` after the end (``Subscription.ended_at``),
  or after creation if that is later. A premium plan granted by an operator,
  with no Stripe subscription at all, counts as active.
- Access events keep the full IP address for 30 days, then only its network
  (IPv4 /24, IPv6 /48); they are deleted after 180 days.

The purge streams expired rows in chunks by id, deletes their storage objects in
batches first and the rows after (so a crash leaves rows to retry, never orphaned
objects), and commits per chunk. Memory stays flat however many rows expire.

Objects can still lose their row elsewhere: a worker killed between writing a model and
committing it, an upload stored just before its job was refused, an export whose request
failed. Nothing would ever expire those, so the purge ends with an orphan sweep: every
object under ``users/<id>/uploads|models|exports/`` that no row refers to and that is older
than ``orphan_grace_hours`` (younger ones may be a write whose commit is on its way) is
deleted, and counted in the purge's audit entry.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.audit import audit
from core.billing.client import ACTIVE_STATUSES
from core.config import get_settings
from core.ids import parse_id
from core.models import (
    AccessEvent,
    AuthSession,
    Model3D,
    OneTimeToken,
    Plan,
    PrivacyRequest,
    Subscription,
    Upload,
    User,
    utcnow,
)
from core.storage import Storage, StoredObject, get_storage, user_prefix

log = logging.getLogger(__name__)

PURGE_CHUNK_ROWS = 1000  # rows per SELECT/DELETE round
# Deleting objects is bound by latency (a disk's metadata writes, S3 round trips), not CPU:
# listing and deleting in parallel threads is what makes 100,000 models take seconds, not minutes.
STORAGE_WORKERS = 16
IP_FULL_DAYS = 30  # full IP addresses are kept this long (fraud prevention)
ACCESS_EVENT_DAYS = 180  # access events are deleted after this many days
IPV4_KEEP_BITS = 24
IPV6_KEEP_BITS = 48
ORPHAN_KINDS = ("uploads", "models", "exports")  # the folders under users/<id>/ that rows refer to
ORPHAN_BATCH = 1000  # listed objects checked against the database per round
USED_TOKEN_KEEP_DAYS = 1  # one-time tokens stay a day past use or expiry, for "link already used" messages


# --- the rule, per user ---------------------------------------------------------


@dataclass(frozen=True)
class RetentionRule:
    """How long one user's content is kept."""

    protected: bool  # an active subscription (or operator-granted premium): nothing expires
    last_end: datetime | None  # when the user's last subscription ended, if any
    days: int

    def purge_date(self, created_at: datetime) -> datetime | None:
        if self.protected:
            return None
        start = max(created_at, self.last_end) if self.last_end else created_at
        return start + timedelta(days=self.days)


def retention_rule(session: Session, *, user: User) -> RetentionRule:
    days = get_settings().retention_days
    subs = session.connection().execute(
        sa.select(Subscription.status, Subscription.ended_at, Subscription.updated_at)  # type: ignore[call-overload]
        .where(Subscription.user_id == user.id)
    ).all()
    # Entitling: the rule of core.billing.entitlements (a past-due one whose grace ran out has an end).
    if any(s.status in ACTIVE_STATUSES and s.ended_at is None for s in subs) or (user.plan == Plan.PREMIUM
                                                                                 and not subs):
        return RetentionRule(protected=True, last_end=None, days=days)
    ends = [s.ended_at or s.updated_at for s in subs]
    return RetentionRule(protected=False, last_end=max(ends) if ends else None, days=days)


def purge_date(session: Session, *, user: User, created_at: datetime) -> datetime | None:
    """When an upload or model created at ``created_at`` will be purged; None while it is kept."""
    return retention_rule(session, user=user).purge_date(created_at)


def _expired(table: sa.Table, cutoff: datetime) -> sa.ColumnElement[bool]:
    """The same rule as RetentionRule, as SQL over every user at once."""
    sub = Subscription.__table__  # type: ignore[attr-defined]
    usr = User.__table__  # type: ignore[attr-defined]
    owner = table.c.user_id
    active = sa.exists().where(sub.c.user_id == owner, sub.c.status.in_(sorted(ACTIVE_STATUSES)),
                               sub.c.ended_at.is_(None))
    any_sub = sa.exists().where(sub.c.user_id == owner)
    ended_recently = sa.exists().where(
        sub.c.user_id == owner, sa.func.coalesce(sub.c.ended_at, sub.c.updated_at) >= cutoff
    )
    granted = sa.exists().where(usr.c.id == owner, usr.c.plan == str(Plan.PREMIUM))
    return sa.and_(table.c.created_at < cutoff, ~active, ~ended_recently, ~sa.and_(granted, ~any_sub))


# --- the purge --------------------------------------------------------------------


@dataclass
class PurgeResult:
    dry_run: bool
    now: datetime
    cutoff: datetime
    models: int = 0
    uploads: int = 0
    objects: int = 0
    orphans: int = 0  # objects no row referred to (see sweep_orphans)
    per_user: Counter[int] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "now": self.now.isoformat(), "cutoff": self.cutoff.isoformat(),
                "models": self.models, "uploads": self.uploads, "objects": self.objects,
                "orphans": self.orphans, "users": len(self.per_user)}


def _model_keys(storage: Storage, row: Any) -> Iterator[str]:
    yield row.glb_key
    if row.preview_key:
        yield row.preview_key
    yield from (row.thumbnail_keys or {}).values()
    prefix = row.storage_prefix or ""
    if prefix:
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        # Only list inside the owner's area: a bad prefix must never widen the delete.
        if prefix.startswith(user_prefix(row.user_id)) and prefix != user_prefix(row.user_id):
            yield from storage.list(prefix)


def _split(rows: list[Any], parts: int) -> list[list[Any]]:
    size = max(1, -(-len(rows) // parts))
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _chunks(session: Session, stmt: sa.Select[Any], id_col: sa.ColumnElement[int]) -> Iterator[list[Any]]:
    after = 0
    while True:
        rows = list(session.connection().execute(stmt.where(id_col > after).order_by(id_col)
                                                 .limit(PURGE_CHUNK_ROWS)).all())
        if not rows:
            return
        after = rows[-1].id
        yield rows


def purge_expired(session: Session, *, now: datetime | None = None, dry_run: bool = False,
                  storage: Storage | None = None) -> PurgeResult:
    """Delete expired uploads and models (rows and objects); with dry_run, only count them."""
    now = now or utcnow()
    cutoff = now - timedelta(days=get_settings().retention_days)
    storage = storage or get_storage()
    result = PurgeResult(dry_run=dry_run, now=now, cutoff=cutoff)
    models = Model3D.__table__  # type: ignore[attr-defined]
    uploads = Upload.__table__  # type: ignore[attr-defined]

    def sweep(part: list[Any]) -> int:
        keys = sorted({k for row in part for k in _model_keys(storage, row) if k})
        return len(keys) if dry_run else storage.delete_many(keys)

    def sweep_uploads(part: list[Any]) -> int:
        keys = sorted({row.storage_key for row in part if row.storage_key})
        return len(keys) if dry_run else storage.delete_many(keys)

    with ThreadPoolExecutor(max_workers=STORAGE_WORKERS, thread_name_prefix="purge") as pool:
        stmt = sa.select(models.c.id, models.c.user_id, models.c.storage_prefix, models.c.glb_key,
                         models.c.preview_key, models.c.thumbnail_keys).where(_expired(models, cutoff))
        for rows in _chunks(session, stmt, models.c.id):
            result.per_user.update(row.user_id for row in rows)
            result.models += len(rows)
            # Objects first, rows after: a crash in between leaves rows that the next run retries.
            result.objects += sum(pool.map(sweep, _split(rows, STORAGE_WORKERS)))
            if not dry_run:
                session.connection().execute(models.delete().where(models.c.id.in_([r.id for r in rows])))
                session.commit()

        stmt = sa.select(uploads.c.id, uploads.c.user_id, uploads.c.storage_key).where(_expired(uploads, cutoff))
        for rows in _chunks(session, stmt, uploads.c.id):
            result.per_user.update(row.user_id for row in rows)
            result.uploads += len(rows)
            result.objects += sum(pool.map(sweep_uploads, _split(rows, STORAGE_WORKERS)))
            if not dry_run:
                session.connection().execute(uploads.delete().where(uploads.c.id.in_([r.id for r in rows])))
                session.commit()

    # After the rows' own objects are gone, so that the sweep does not list them again.
    result.orphans = sweep_orphans(session, now=now, storage=storage, dry_run=dry_run)
    if not dry_run:
        audit(session, "retention.purge", models=result.models, uploads=result.uploads, objects=result.objects,
              orphans=result.orphans, users=len(result.per_user), cutoff=cutoff.isoformat())
        session.commit()
    log.info("retention purge: %s", result.as_dict())
    return result


# --- orphans: objects without a row ---------------------------------------------------


def _orphan_candidate(obj: StoredObject) -> tuple[str, str] | None:
    """(kind, what a row would hold) for an object under users/<id>/<kind>/, else None."""
    parts = obj.key.split("/")
    if len(parts) < 4 or parts[0] != "users" or parse_id(parts[1]) is None or parts[2] not in ORPHAN_KINDS:
        return None
    if parts[2] == "models":
        if len(parts) < 5:
            return ("models_key", obj.key)  # a file directly under models/: only a glb_key could name it
        return ("models", "/".join(parts[:4]) + "/")
    return (parts[2], obj.key)


def _referenced(session: Session, kind: str, values: list[str]) -> set[str]:
    conn = session.connection()
    if kind == "uploads":
        table, column = Upload.__table__, "storage_key"  # type: ignore[attr-defined]
    elif kind == "exports":
        table, column = PrivacyRequest.__table__, "export_key"  # type: ignore[attr-defined]
    elif kind == "models_key":
        table, column = Model3D.__table__, "glb_key"  # type: ignore[attr-defined]
    else:
        table = Model3D.__table__  # type: ignore[attr-defined]
        bare = [v.rstrip("/") for v in values]  # a prefix stored without its trailing slash counts too
        found = conn.execute(sa.select(table.c.storage_prefix)
                             .where(table.c.storage_prefix.in_(values + bare))).scalars().all()
        return {f if f.endswith("/") else f + "/" for f in found}
    return set(conn.execute(sa.select(table.c[column]).where(table.c[column].in_(values))).scalars().all())


def _sweep_batch(session: Session, storage: Storage, batch: list[tuple[str, str, str]], dry_run: bool) -> int:
    by_kind: dict[str, set[str]] = {}
    for kind, value, _key in batch:
        by_kind.setdefault(kind, set()).add(value)
    kept = {kind: _referenced(session, kind, sorted(values)) for kind, values in by_kind.items()}
    session.rollback()  # end the read: no transaction stays open across storage calls
    orphans = sorted(key for kind, value, key in batch if value not in kept[kind])
    if orphans:
        log.warning("orphan sweep: %d objects without a row%s, e.g. %s", len(orphans),
                    " (dry run)" if dry_run else "", orphans[0])
    return len(orphans) if dry_run else storage.delete_many(orphans)


def sweep_orphans(session: Session, *, now: datetime | None = None, storage: Storage | None = None,
                  dry_run: bool = False) -> int:
    """Delete objects under users/<id>/uploads|models|exports/ that no row refers to and that are older
    than ``orphan_grace_hours``; returns how many (with dry_run: how many would go)."""
    now = now or utcnow()
    storage = storage or get_storage()
    older_than = now - timedelta(hours=get_settings().orphan_grace_hours)
    count = 0
    batch: list[tuple[str, str, str]] = []
    for obj in storage.list_objects("users/"):
        if obj.modified_at >= older_than:
            continue
        candidate = _orphan_candidate(obj)
        if candidate is None:
            continue
        batch.append((*candidate, obj.key))
        if len(batch) >= ORPHAN_BATCH:
            count += _sweep_batch(session, storage, batch, dry_run)
            batch = []
    if batch:
        count += _sweep_batch(session, storage, batch, dry_run)
    return count


# --- access log, tokens, sessions, exports -------------------------------------------


def truncate_ip(ip: str | None) -> str | None:
    """The network part only: IPv4 /24, IPv6 /48. Anything unparseable is dropped."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bits = IPV4_KEEP_BITS if addr.version == 4 else IPV6_KEEP_BITS
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False).network_address)


def truncate_access_ips(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Truncate IPs older than 30 days and delete access events older than 180 days."""
    now = now or utcnow()
    events = AccessEvent.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    deleted = conn.execute(events.delete().where(
        events.c.created_at < now - timedelta(days=ACCESS_EVENT_DAYS))).rowcount
    session.commit()
    stmt = sa.select(events.c.id, events.c.ip).where(
        events.c.created_at < now - timedelta(days=IP_FULL_DAYS), events.c.ip_truncated == sa.false())
    update = events.update().where(events.c.id == sa.bindparam("b_id")).values(
        ip=sa.bindparam("b_ip"), ip_truncated=True)
    truncated = 0
    after = 0
    while True:  # no _chunks here: truncated rows leave the filter, but ids still advance
        rows = session.connection().execute(stmt.where(events.c.id > after).order_by(events.c.id)
                                            .limit(PURGE_CHUNK_ROWS)).all()
        if not rows:
            break
        after = rows[-1].id
        session.connection().execute(update, [{"b_id": r.id, "b_ip": truncate_ip(r.ip)} for r in rows])
        session.commit()
        truncated += len(rows)
    return {"ips_truncated": truncated, "access_events_deleted": int(deleted or 0)}


def cleanup_tokens_and_sessions(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    tokens = OneTimeToken.__table__  # type: ignore[attr-defined]
    sessions = AuthSession.__table__  # type: ignore[attr-defined]
    old = now - timedelta(days=USED_TOKEN_KEEP_DAYS)
    conn = session.connection()
    t = conn.execute(tokens.delete().where(sa.or_(tokens.c.expires_at < old, tokens.c.used_at < old))).rowcount
    # A revoked or expired session row is dead either way; deleting it drops its IP and user agent too.
    s = conn.execute(sessions.delete().where(
        sa.or_(sessions.c.expires_at < now, sessions.c.revoked_at.is_not(None)))).rowcount
    session.commit()
    return {"tokens_deleted": int(t or 0), "sessions_deleted": int(s or 0)}


def cleanup_exports(session: Session, *, now: datetime | None = None, storage: Storage | None = None) -> dict[str, int]:
    """Delete export ZIPs past their 7 days; the request row stays, marked expired."""
    now = now or utcnow()
    storage = storage or get_storage()
    reqs = PrivacyRequest.__table__  # type: ignore[attr-defined]
    rows = session.connection().execute(
        sa.select(reqs.c.id, reqs.c.export_key).where(reqs.c.export_key.is_not(None),
                                                      reqs.c.export_expires_at < now)).all()
    if rows:
        storage.delete_many([r.export_key for r in rows])
        session.connection().execute(reqs.update().where(reqs.c.id.in_([r.id for r in rows]))
                                     .values(export_key=None, status="expired"))
        session.commit()
    return {"exports_deleted": len(rows)}
