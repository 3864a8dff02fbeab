"""The admin metrics page's queries: every figure is aggregated in the database.

Each function takes a session and a period (``since``..``now``) and returns plain data (dicts and
lists) for the page and the Prometheus collector. Percentiles use PostgreSQL's ``percentile_cont``;
SQLite has none, so there they are the nearest rank over a histogram counted in SQL (to 0.1 s).
Buckets are hours for a 24-hour period and days otherwise, in UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.config import get_settings
from core.jobs import kinds as job_kinds
from core.models import (
    AccessEvent,
    AuditLog,
    GenerationJob,
    InvoiceRecord,
    JobStatus,
    Model3D,
    OutboxMessage,
    Subscription,
    SupportTicket,
    Upload,
    User,
    WebhookEvent,
    WorkerHeartbeat,
    utcnow,
)

PERIODS_HOURS = {"24h": 24, "7d": 24 * 7, "30d": 24 * 30}
WORKER_STALE_SECONDS = 120  # a heartbeat older than this: the worker is probably gone
WORKER_RATE_MINUTES = 10  # jobs per minute is averaged over this window
ACTIVE_SUBSCRIPTION = ("active", "trialing", "past_due")
FAILED_PAYMENT_EVENTS = ("invoice.payment_failed",)
TICKET_AGE_DAYS = (1, 3, 7)  # bucket edges of open tickets' age

JOBS = GenerationJob.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Period:
    since: datetime
    now: datetime
    hourly: bool
    key: str = "7d"

    @classmethod
    def of(cls, key: str, now: datetime | None = None) -> Period:
        now = now or utcnow()
        hours = PERIODS_HOURS[key]
        return cls(now - timedelta(hours=hours), now, hours <= 24, key)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _bucket(session: Session, column: Any, hourly: bool) -> Any:
    """The start of a column's hour or day, as text (UTC)."""
    if _pg(session):
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:00" if hourly else "YYYY-MM-DD")
    return sa.func.strftime("%Y-%m-%d %H:00" if hourly else "%Y-%m-%d", column)


def _seconds_between(session: Session, start: Any, end: Any) -> Any:
    if _pg(session):
        return sa.func.extract("epoch", end - start)
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0


def _scalar(session: Session, stmt: Any) -> Any:
    return session.connection().execute(stmt).scalar()


def _rows(session: Session, stmt: Any) -> list[Any]:
    return list(session.connection().execute(stmt).all())


def percentiles(session: Session, value: Any, where: list[Any], group: list[Any],
                fractions: tuple[float, ...] = (0.5, 0.95), digits: int = 1) -> list[dict[str, Any]]:
    """Percentiles of ``value`` per ``group`` over the rows matching ``where``, aggregated in the database."""
    if _pg(session):
        cols = [sa.func.percentile_cont(f).within_group(value).label(f"p{round(f * 100)}") for f in fractions]
        stmt = sa.select(*group, sa.func.count().label("n"), *cols).where(*where)
        if group:
            stmt = stmt.group_by(*group)
        return [dict(r._mapping) for r in _rows(session, stmt)]
    # SQLite has no percentile function, and ranking every row with window functions costs a sort
    # (seconds at 100,000 jobs). One GROUP BY pass counts the values rounded to ``digits`` instead;
    # the nearest rank, ceil(p * n), is then read off the cumulative counts: exact to the rounding.
    rounded = sa.func.round(value, digits)
    keys = [g.label(f"g{i}") for i, g in enumerate(group)]
    stmt = (sa.select(*keys, rounded.label("v"), sa.func.count().label("c")).where(*where, value.is_not(None))
            .group_by(*[sa.literal_column(f"g{i}") for i in range(len(group))], rounded))
    names = [getattr(g, "key", None) or getattr(g, "name", f"g{i}") for i, g in enumerate(group)]
    histograms: dict[tuple[Any, ...], list[tuple[float, int]]] = {}
    for r in _rows(session, stmt):
        m = r._mapping
        histograms.setdefault(tuple(m[f"g{i}"] for i in range(len(group))), []).append((float(m["v"]), int(m["c"])))
    out = []
    for key, hist in histograms.items():
        hist.sort()
        n = sum(c for _v, c in hist)
        row: dict[str, Any] = {**{str(names[i]): key[i] for i in range(len(group))}, "n": n}
        for f in fractions:
            rank, seen = max(1, math.ceil(f * n)), 0
            for v, c in hist:
                seen += c
                if seen >= rank:
                    row[f"p{round(f * 100)}"] = v
                    break
        out.append(row)
    return out


# --- users and money ---------------------------------------------------------------------


def users(session: Session, period: Period) -> dict[str, Any]:
    by_plan = dict(_rows(session, sa.select(USERS.c.plan, sa.func.count()).group_by(USERS.c.plan)))
    day = _bucket(session, USERS.c.created_at, period.hourly)
    new = _rows(session, sa.select(day.label("t"), sa.func.count()).where(USERS.c.created_at >= period.since)
                .group_by(day).order_by(day))
    events = AccessEvent.__table__  # type: ignore[attr-defined]

    def active(days: int) -> int:
        return int(_scalar(session, sa.select(sa.func.count(sa.distinct(events.c.user_id)))
                           .where(events.c.created_at >= period.now - timedelta(days=days),
                                  events.c.user_id.is_not(None))) or 0)

    return {"total": sum(by_plan.values()), "by_plan": {str(k): int(v) for k, v in by_plan.items()},
            "new": [{"t": t, "n": int(n)} for t, n in new], "new_total": sum(int(n) for _t, n in new),
            "active_7d": active(7), "active_30d": active(30)}


def money(session: Session, period: Period) -> dict[str, Any]:
    """MRR: each active subscriber's latest invoice amount (subscriptions store no price), else
    PREMIUM_PRICE_CENTS; churn: subscriptions that ended in the period over those active at its start."""
    subs = Subscription.__table__  # type: ignore[attr-defined]
    inv = InvoiceRecord.__table__  # type: ignore[attr-defined]
    active = int(_scalar(session, sa.select(sa.func.count()).where(subs.c.status.in_(ACTIVE_SUBSCRIPTION))) or 0)
    latest = (sa.select(inv.c.user_id, inv.c.amount_cents, inv.c.currency,
                        sa.func.row_number().over(partition_by=inv.c.user_id,
                                                  order_by=(inv.c.created_at.desc(), inv.c.id.desc())).label("rn"))
              .where(inv.c.user_id.is_not(None)).subquery())
    subscribers = (sa.select(subs.c.user_id).where(subs.c.status.in_(ACTIVE_SUBSCRIPTION)).distinct().subquery())
    mrr_rows = _rows(session, sa.select(latest.c.currency, sa.func.sum(latest.c.amount_cents), sa.func.count())
                     .join(subscribers, subscribers.c.user_id == latest.c.user_id).where(latest.c.rn == 1)
                     .group_by(latest.c.currency))
    billed = sum(int(n) for _c, _s, n in mrr_rows)
    mrr = {str(c): int(s) for c, s, _n in mrr_rows}
    unbilled = max(0, active - billed)
    price = get_settings().premium_price_cents
    if unbilled and price:
        mrr["eur"] = mrr.get("eur", 0) + unbilled * price
    ended = int(_scalar(session, sa.select(sa.func.count()).where(subs.c.ended_at >= period.since,
                                                                   subs.c.ended_at <= period.now)) or 0)
    events = WebhookEvent.__table__  # type: ignore[attr-defined]
    failed = int(_scalar(session, sa.select(sa.func.count()).where(events.c.type.in_(FAILED_PAYMENT_EVENTS),
                                                                    events.c.received_at >= period.since)) or 0)
    past_due = int(_scalar(session, sa.select(sa.func.count()).where(subs.c.status == "past_due")) or 0)
    return {"active": active, "mrr_cents": mrr, "unpriced": unbilled if not price else 0, "ended": ended,
            "churn": ended / (active + ended) if active + ended else 0.0, "failed_payments": failed,
            "past_due": past_due}


# --- jobs ------------------------------------------------------------------------------------


def engine_seconds() -> Any:
    return JOBS.c.stats["total_seconds"].as_float()


def jobs(session: Session, period: Period, *, examples: int = 3, top: int = 5) -> dict[str, Any]:
    t = _bucket(session, JOBS.c.created_at, period.hourly)
    in_period = JOBS.c.created_at >= period.since
    per_bucket = _rows(session, sa.select(t.label("t"), JOBS.c.status, sa.func.count()).where(in_period)
                       .group_by(t, JOBS.c.status).order_by(t))
    depth = dict(_rows(session, sa.select(JOBS.c.status, sa.func.count())
                       .where(JOBS.c.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])).group_by(JOBS.c.status)))
    started = JOBS.c.started_at.is_not(None)
    wait = percentiles(session, _seconds_between(session, JOBS.c.created_at, JOBS.c.started_at),
                       [in_period, started], [], digits=0)
    device = JOBS.c.stats["device"].as_string()
    engine = percentiles(session, engine_seconds(), [in_period, JOBS.c.status == JobStatus.SUCCEEDED],
                         [JOBS.c.mode, device.label("device")])
    failed = sa.and_(in_period, JOBS.c.status == JobStatus.FAILED)
    codes = _rows(session, sa.select(JOBS.c.error_code, sa.func.count().label("n")).where(failed)
                  .group_by(JOBS.c.error_code).order_by(sa.desc("n")).limit(top))
    failures = []
    for code, n in codes:
        ids = [int(i) for i in session.connection().execute(
            sa.select(JOBS.c.id).where(failed, JOBS.c.error_code == code if code else JOBS.c.error_code.is_(None))
            .order_by(JOBS.c.id.desc()).limit(examples)).scalars()]
        failures.append({"code": code, "n": int(n), "examples": ids})
    return {"per_bucket": [{"t": b, "status": str(s), "n": int(n)} for b, s, n in per_bucket],
            "queued": int(depth.get(JobStatus.QUEUED, 0)), "running": int(depth.get(JobStatus.RUNNING, 0)),
            "wait": wait[0] if wait else {"n": 0, "p50": None, "p95": None},
            "engine": [{**r, "device": r.get("device") or "?"} for r in engine], "failures": failures}


def job_cube(session: Session, period: Period, *, faces_step: int = 5000) -> list[dict[str, Any]]:
    """Succeeded jobs by processing resolution (px) and face count (buckets), with their mean engine seconds."""
    res = JOBS.c.stats[("image_size", 0)].as_integer()
    faces = sa.cast(JOBS.c.stats["faces"].as_integer() / faces_step, sa.Integer) * faces_step
    rows = _rows(session, sa.select(res.label("res"), faces.label("faces"), sa.func.count(),
                                    sa.func.avg(engine_seconds()))
                 .where(JOBS.c.created_at >= period.since, JOBS.c.status == JobStatus.SUCCEEDED, res.is_not(None))
                 .group_by(res, faces))
    return [{"resolution": int(r), "faces": int(f or 0), "jobs": int(n), "seconds": float(s or 0)}
            for r, f, n, s in rows]


def workers(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each worker with what it takes (``modes``: kinds of job, core.jobs.kinds), its beat and its load."""
    now = now or utcnow()
    beats = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
    window = now - timedelta(minutes=WORKER_RATE_MINUTES)
    done = dict(_rows(session, sa.select(JOBS.c.worker_id, sa.func.count()).where(JOBS.c.finished_at >= window)
                      .group_by(JOBS.c.worker_id)))
    running = dict(_rows(session, sa.select(JOBS.c.worker_id, sa.func.count())
                         .where(JOBS.c.status == JobStatus.RUNNING).group_by(JOBS.c.worker_id)))
    out = []
    for w in _rows(session, sa.select(beats).order_by(beats.c.last_seen_at.desc())):
        age = (now - w.last_seen_at).total_seconds()
        out.append({"worker_id": w.worker_id, "hostname": w.hostname, "pid": w.pid, "device": w.device,
                    "segmenter": w.segmenter, "last_seen_at": w.last_seen_at, "age_seconds": age,
                    "alive": age < WORKER_STALE_SECONDS, "modes": sorted(job_kinds.parse_kinds(w.modes),
                                                                         key=job_kinds.KINDS.index),
                    "concurrency": int(w.concurrency), "running": int(running.get(w.worker_id, 0)),
                    "jobs_per_minute": int(done.get(w.worker_id, 0)) / WORKER_RATE_MINUTES})
    return out


def untaken_jobs(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Queued jobs per kind that no live worker takes (they wait until one that does starts)."""
    taken: set[str] = set()
    for w in workers(session, now):
        if w["alive"]:
            taken.update(w["modes"])
    missing = [k for k in job_kinds.KINDS if k not in taken]
    if not missing:
        return {}
    kind = job_kinds.kind_expression().label("kind")
    rows = _rows(session, sa.select(kind, sa.func.count()).where(JOBS.c.status == JobStatus.QUEUED)
                 .group_by(kind))
    return {str(k): int(n) for k, n in rows if k in missing}


# --- storage, retention, support ---------------------------------------------------------------


def storage(session: Session) -> list[dict[str, Any]]:
    """Objects and bytes by plan. Uploads store their size; models do not (their files' sizes are not
    recorded), so models count objects only."""
    up = Upload.__table__  # type: ignore[attr-defined]
    md = Model3D.__table__  # type: ignore[attr-defined]
    uploads = _rows(session, sa.select(USERS.c.plan, sa.func.count(), sa.func.coalesce(sa.func.sum(up.c.size_bytes), 0))
                    .select_from(up.join(USERS, USERS.c.id == up.c.user_id)).group_by(USERS.c.plan))
    models = dict(_rows(session, sa.select(USERS.c.plan, sa.func.count())
                        .select_from(md.join(USERS, USERS.c.id == md.c.user_id)).group_by(USERS.c.plan)))
    plans = sorted({str(p) for p, _n, _b in uploads} | {str(p) for p in models})
    by = {str(p): (int(n), int(b)) for p, n, b in uploads}
    return [{"plan": p, "uploads": by.get(p, (0, 0))[0], "upload_bytes": by.get(p, (0, 0))[1],
             "models": int(models.get(p, 0))} for p in plans]


def purge_history(session: Session, *, limit: int = 30) -> list[dict[str, Any]]:
    """The daily purge's own audit rows (``retention.purge``), newest first."""
    audit = AuditLog.__table__  # type: ignore[attr-defined]
    rows = _rows(session, sa.select(audit.c.created_at, audit.c.details).where(audit.c.action == "retention.purge")
                 .order_by(audit.c.id.desc()).limit(limit))
    return [{"at": at, **{k: (d or {}).get(k, 0) for k in ("models", "uploads", "objects", "users")}}
            for at, d in rows]


def next_purge(session: Session) -> dict[str, Any]:
    """What the next purge would remove (its dry run)."""
    from core.privacy.retention import purge_expired

    result = purge_expired(session, dry_run=True)
    return {"models": result.models, "uploads": result.uploads, "objects": result.objects,
            "users": len(result.per_user)}


def tickets_by_age(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Tickets waiting for support (open), by how long they have waited."""
    now = now or utcnow()
    tk = SupportTicket.__table__  # type: ignore[attr-defined]
    edges = [now - timedelta(days=d) for d in TICKET_AGE_DAYS]
    bucket = sa.case(*[(tk.c.updated_at >= edge, i) for i, edge in enumerate(edges)], else_=len(edges))
    got = dict(_rows(session, sa.select(bucket, sa.func.count()).where(tk.c.status == "open").group_by(bucket)))
    return [{"bucket": i, "n": int(got.get(i, 0))} for i in range(len(edges) + 1)]


def outbox_backlog(session: Session, *, status: str = "pending") -> int:
    """Outbox messages in ``status``: pending (the backlog) or failed (never to be sent, each with its reason)."""
    ob = OutboxMessage.__table__  # type: ignore[attr-defined]
    return int(_scalar(session, sa.select(sa.func.count()).where(ob.c.status == status)) or 0)


def round_or_none(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), digits)
