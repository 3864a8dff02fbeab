"""A demo data set for the admin page (``python -m core.manage seed-demo``) and its benchmark.

Rows are bulk-inserted (one INSERT per table and chunk), so the benchmark's 10,000 users and
100,000 jobs take seconds. Every demo account shares one bcrypt hash, computed once. Storage
holds no files for demo rows: the page only counts them. Never in production (the CLI refuses).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.accounts.auth import hash_password
from core.models import (
    AccessEvent,
    AuditLog,
    GenerationJob,
    InvoiceRecord,
    Model3D,
    PrivacyRequest,
    Subscription,
    SupportMessage,
    SupportTicket,
    Upload,
    User,
    WebhookEvent,
    WorkerHeartbeat,
    utcnow,
)
from core.support.tickets import add_month

DEMO_PASSWORD = "demo-password-42"
DEMO_ADMIN = "demo-admin@example.org"
CHUNK_ROWS = 5000
MODES = ("inflate", "relief", "carve")
DEVICES = ("cpu", "cuda")
FAILURE_CODES = ("no_foreground", "image_too_small", "worker_lost", "transient", "views_inconsistent")
SUBJECTS = ("My vase is lopsided", "Invoice question", "Can I print in colour?", "Export is empty",
            "Upload fails on large photos", "Delete my old models")


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    table = model.__table__
    for i in range(0, len(rows), CHUNK_ROWS):
        session.connection().execute(sa.insert(table), rows[i:i + CHUNK_ROWS])


def _ids(session: Session, model: Any, first_after: int) -> list[int]:
    table = model.__table__
    return [int(i) for i in session.connection().execute(
        sa.select(table.c.id).where(table.c.id > first_after).order_by(table.c.id)).scalars()]


def _max_id(session: Session, model: Any) -> int:
    return int(session.connection().execute(sa.select(sa.func.coalesce(sa.func.max(model.__table__.c.id), 0)))
               .scalar() or 0)


def _spread(rng: random.Random, now: datetime, days: float) -> datetime:
    return now - timedelta(seconds=rng.random() * days * 86400)


def _job(rng: random.Random, uid: int, created: datetime, now: datetime,
         status: str | None = None) -> dict[str, Any]:
    roll, forced = rng.random(), status is not None
    status = status or ("succeeded" if roll < 0.82 else "failed" if roll < 0.92
                        else "cancelled" if roll < 0.95
              else "queued" if roll < 0.985 else "running")
    recent = created > now - timedelta(minutes=30)
    if recent and status in ("succeeded", "failed") and not forced and rng.random() < 0.3:
        status = "queued"
    mode, device = rng.choice(MODES), rng.choice(DEVICES)
    res = rng.choice((192, 256, 512, 768, 1024))
    faces = int(rng.gauss(res * 40, res * 8)) if status == "succeeded" else 0
    seconds = max(0.2, res / 200 * (0.3 if device == "cuda" else 1.0) * (2.5 if mode == "carve" else 1.0)
                  * rng.lognormvariate(0, 0.35))
    wait = rng.expovariate(1 / 20)
    started = created + timedelta(seconds=wait) if status != "queued" else None
    finished = started + timedelta(seconds=seconds) if started and status != "running" else None
    stats = ({"mode": mode, "device": device, "total_seconds": round(seconds, 3), "faces": max(faces, 100),
              "image_size": [res, res], "engine": "classical"} if status == "succeeded" else {})
    return {"user_id": uid, "status": status, "mode": mode, "name": "demo", "options": {}, "upload_ids": [],
            "priority": 0, "progress_pct": 100 if finished else 0, "attempts": 1 if started else 0, "max_attempts": 3,
            "error_code": rng.choice(FAILURE_CODES) if status == "failed" else None,
            "error_message": "demo failure" if status == "failed" else None, "stats": stats,
            "worker_id": f"demo-worker-{rng.randint(1, 3)}" if started else None,
            "created_at": created, "started_at": started, "finished_at": finished}


def seed(session: Session, *, users: int = 60, jobs: int = 600, models: int = 150, days: float = 45,
         seed_value: int = 7, now: datetime | None = None, extras: bool = True) -> dict[str, int]:
    """Insert a demo data set; returns the counts. ``extras`` adds tickets, requests, money and audit rows."""
    rng = random.Random(seed_value)
    now = now or utcnow()
    password_hash = hash_password(DEMO_PASSWORD)
    first_user = _max_id(session, User)
    tag = first_user  # emails stay unique when seeding twice
    user_rows: list[dict[str, Any]] = [
                 {"email": f"demo-{tag}-{i}@example.org", "name": f"Demo {i}", "locale": rng.choice(("en", "nl")),
                  "password_hash": password_hash, "role": "user", "plan": "premium" if rng.random() < 0.2 else "free",
                  "failed_logins": 0, "created_at": _spread(rng, now, days), "updated_at": now}
                 for i in range(users)]
    _insert(session, User, user_rows)
    uids = _ids(session, User, first_user)
    plan_of = dict(zip(uids, (u["plan"] for u in user_rows), strict=True))
    created_of = dict(zip(uids, (u["created_at"] for u in user_rows), strict=True))

    def after_signup(uid: int) -> datetime:
        start = created_of[uid]
        return start + (now - start) * rng.random()

    first_job = _max_id(session, GenerationJob)
    # The first five jobs take every state, so that even a small demo shows each of them.
    states = ("running", "queued", "failed", "cancelled", "succeeded")
    _insert(session, GenerationJob, [_job(rng, uid, after_signup(uid), now, states[i] if i < len(states) else None)
                                     for i, uid in enumerate(rng.choice(uids) for _ in range(jobs))])
    succeeded = [int(i) for i in session.connection().execute(
        sa.select(GenerationJob.__table__.c.id, GenerationJob.__table__.c.user_id)  # type: ignore[attr-defined]
        .where(GenerationJob.__table__.c.id > first_job, GenerationJob.__table__.c.status == "succeeded")  # type: ignore[attr-defined]
        .order_by(GenerationJob.__table__.c.id).limit(models)).scalars()]  # type: ignore[attr-defined]
    job_owner = dict(session.connection().execute(
        sa.select(GenerationJob.__table__.c.id, GenerationJob.__table__.c.user_id)  # type: ignore[attr-defined]
        .where(GenerationJob.__table__.c.id.in_(succeeded))).all()) if succeeded else {}  # type: ignore[attr-defined]
    model_rows: list[dict[str, Any]] = []
    upload_rows: list[dict[str, Any]] = []
    for n in range(models):
        jid = succeeded[n] if n < len(succeeded) else None
        uid = int(job_owner[jid]) if jid is not None else rng.choice(uids)
        created = after_signup(uid)
        prefix = f"users/{uid}/models/demo-{tag}-{n}/"
        model_rows.append({"user_id": uid, "job_id": jid, "name": f"demo model {n}", "mode": rng.choice(MODES),
                           "storage_prefix": prefix, "glb_key": prefix + "model.glb", "thumbnail_keys": {},
                           "faces": rng.randint(2000, 60000), "watertight": True, "extents": [1, 1, 1], "stats": {},
                           "created_at": created})
        upload_rows.append({"user_id": uid, "storage_key": f"users/{uid}/uploads/demo-{tag}-{n}.png",
                            "filename": f"photo-{n}.png", "content_type": "image/png",
                            "size_bytes": rng.randint(200_000, 4_000_000), "width": 1024, "height": 768,
                            "sha256": "", "created_at": created})
    _insert(session, Model3D, model_rows)
    _insert(session, Upload, upload_rows)
    _insert(session, AccessEvent, [{"user_id": rng.choice(uids), "kind": "login", "ip": "192.0.2.1",
                                    "ip_truncated": False, "user_agent": "demo", "created_at": _spread(rng, now, 30)}
                                   for _ in range(max(users, jobs // 4))])
    counts = {"users": users, "jobs": jobs, "models": models, "uploads": models}
    if extras:
        counts.update(_extras(session, rng, uids, plan_of, now, tag))
    session.commit()
    return counts


def _premium(uids: list[int], plan_of: dict[int, str]) -> Iterator[int]:
    return (u for u in uids if plan_of[u] == "premium")


def _extras(session: Session, rng: random.Random, uids: list[int], plan_of: dict[int, str], now: datetime,
            tag: int) -> dict[str, int]:
    premium = list(_premium(uids, plan_of))
    subs: list[dict[str, Any]] = []
    for n, uid in enumerate(premium):
        ended = rng.random() < 0.15
        subs.append({"user_id": uid, "stripe_customer_id": f"cus_demo{tag}_{n}",
                     "stripe_subscription_id": f"sub_demo{tag}_{n}", "status": "canceled" if ended else "active",
                     "current_period_end": now + timedelta(days=rng.randint(1, 30)),
                     "ended_at": _spread(rng, now, 20) if ended else None, "created_at": _spread(rng, now, 90),
                     "updated_at": now})
    _insert(session, Subscription, subs)
    _insert(session, InvoiceRecord, [{"user_id": s["user_id"], "stripe_invoice_id": f"in_demo{tag}_{n}",
                                      "amount_cents": 900, "currency": "eur", "created_at": _spread(rng, now, 30)}
                                     for n, s in enumerate(subs)])
    _insert(session, WebhookEvent, [{"id": f"evt_demo{tag}_{n}", "type": "invoice.payment_failed",
                                     "received_at": _spread(rng, now, 25)} for n in range(max(1, len(subs) // 6))])
    tickets = 0
    for n in range(min(len(uids), 12)):
        uid = uids[n]
        created = _spread(rng, now, 12)
        status = ("open", "answered", "closed")[n % 3]
        _insert(session, SupportTicket, [{"user_id": uid, "email": f"demo-{tag}-{n}@example.org",
                                          "subject": SUBJECTS[n % len(SUBJECTS)], "body": "Hello, could you help?",
                                          "status": status, "created_at": created, "updated_at": created}])
        tid = _max_id(session, SupportTicket)
        if status != "open":
            _insert(session, SupportMessage, [{"ticket_id": tid, "user_id": uid, "author": "support",
                                               "body": "Thanks, we are looking into it.",
                                               "created_at": created + timedelta(hours=2)}])
        tickets += 1
    requests: list[dict[str, Any]] = []
    for n, kind in enumerate(("access", "correction", "deletion", "objection", "other", "objection")):
        created = now - timedelta(days=(38, 25, 10, 3, 33, 1)[n])
        requests.append({"user_id": uids[n % len(uids)], "kind": kind, "status": "open" if n != 4 else "done",
                         "details": "Demo request", "created_at": created, "due_at": add_month(created),
                         "resolved_at": now - timedelta(days=1) if n == 4 else None,
                         "resolution_note": "Handled: data corrected." if n == 4 else None})
    _insert(session, PrivacyRequest, requests)
    audits: list[dict[str, Any]] = [{"user_id": None, "actor": "system", "action": "retention.purge",
               "details": {"models": rng.randint(0, 40), "uploads": rng.randint(0, 60), "objects": rng.randint(0, 300),
                           "users": rng.randint(0, 20)}, "created_at": now - timedelta(days=d, hours=-3)}
              for d in range(1, 15)]
    audits += [{"user_id": uids[0], "actor": "admin:1", "action": "admin.plan_changed",
                "details": {"admin_id": 1, "target": f"user:{uids[0]}", "before": "free", "after": "premium",
                            "reason": "demo: goodwill"}, "created_at": now - timedelta(hours=5)}]
    _insert(session, AuditLog, audits)
    workers = (("cuda:0", 5, "birefnet-general-lite"), ("cpu", 8, "u2netp"), ("cpu", 900, "grabcut"))
    for n, (device, age, segmenter) in enumerate(workers):
        session.merge(WorkerHeartbeat(worker_id=f"demo-worker-{n + 1}", hostname=f"gpu-{n + 1}", pid=1000 + n,
                                      device=device, segmenter=segmenter, started_at=now - timedelta(hours=6),
                                      last_seen_at=now - timedelta(seconds=age)))
    return {"subscriptions": len(subs), "tickets": tickets, "privacy_requests": len(requests), "audit": len(audits)}


def demo_admin(session: Session) -> tuple[str, bool]:
    """The demo admin account (created once); returns its email and whether it was created now."""
    from core.accounts import auth

    if auth.get_user_by_email(session, DEMO_ADMIN) is not None:
        return DEMO_ADMIN, False
    auth.create_user(session, email=DEMO_ADMIN, password=DEMO_PASSWORD, name="Demo admin", role="admin")
    session.commit()
    return DEMO_ADMIN, True
