"""Erasure (policy clause 6): one item, or the whole account.

``start_erasure`` locks the account at once (password hash scrapped, sessions
deleted, queued jobs cancelled) and leaves a deletion request as the marker;
``erase_user`` then deletes the Stripe customer, the storage objects and, in one
transaction, every row. Each step is safe to repeat, and the marker row goes in
the last transaction, so a crash anywhere leaves work that the next run (the CLI
again, or the worker's tick) finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from core.accounts.access import Client
from core.accounts.auth import verify_password
from core.audit import audit, user_actor
from core.billing import client
from core.db import get_session
from core.errors import NotFound, WrongCredentials
from core.i18n import N_
from core.models import (
    AuthSession,
    GenerationJob,
    JobStatus,
    Model3D,
    OutboxMessage,
    PrivacyRequest,
    Subscription,
    SupportTicket,
    Upload,
    User,
    user_tables,
    utcnow,
)
from core.privacy.exports import _model_object_keys
from core.storage import Storage, get_storage, user_prefix
from core.support.tickets import add_month

log = logging.getLogger(__name__)

ERASURE_RETRY_AFTER_SECONDS = 120  # the tick leaves a fresh erasure to the web process that started it


ERASED_PASSWORD_HASH = "!erased"  # not a bcrypt hash: no password matches it



#: Tables kept after erasure because the law requires them; their user link is cut instead.
KEEP_ON_ERASURE = frozenset({"invoice_record", "audit_log"})


class PasswordRequired(WrongCredentials):
    """The password is wrong. Please confirm with your current password."""

    code = "password_required"




# --- deleting one item --------------------------------------------------------------


def delete_upload(session: Session, *, user: User, upload_id: int, storage: Storage | None = None) -> None:
    up = session.get(Upload, upload_id)
    if up is None or up.user_id != user.id:
        raise NotFound(N_("That upload does not exist (any more)."))
    (storage or get_storage()).delete_many([up.storage_key])
    session.delete(up)
    audit(session, "upload.deleted", user_id=user.id, upload_id=upload_id, actor=user_actor(user.id))
    session.commit()


def delete_model(session: Session, *, user: User, model_id: int, storage: Storage | None = None) -> None:
    model = session.get(Model3D, model_id)
    if model is None or model.user_id != user.id:
        raise NotFound(N_("That model does not exist (any more)."))
    storage = storage or get_storage()
    storage.delete_many(_model_object_keys(storage, model))
    session.delete(model)
    audit(session, "model.deleted", user_id=user.id, model_id=model_id, actor=user_actor(user.id))
    session.commit()


# --- erasure -----------------------------------------------------------------------


def start_erasure(session: Session, *, user_id: int) -> None:
    """Lock the account now; the rest of the erasure may follow later. Safe to repeat."""
    user = session.get(User, user_id)
    if user is None:
        return
    user.password_hash = ERASED_PASSWORD_HASH
    session.add(user)
    conn = session.connection()
    # Deleted rows, not revoked ones: resolve_session finds nothing, so every copied cookie is dead.
    sessions = AuthSession.__table__  # type: ignore[attr-defined]
    conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
    jobs = GenerationJob.__table__  # type: ignore[attr-defined]
    conn.execute(jobs.update().where(jobs.c.user_id == user_id, jobs.c.status == str(JobStatus.QUEUED))
                 .values(status=str(JobStatus.CANCELLED)))
    marker = session.exec(
        select(PrivacyRequest.id).where(PrivacyRequest.user_id == user_id)
        .where(PrivacyRequest.kind == "deletion").where(PrivacyRequest.status == "processing")
    ).first()
    if marker is None:
        now = utcnow()
        session.add(PrivacyRequest(user_id=user_id, kind="deletion", status="processing", created_at=now,
                                   due_at=add_month(now), details="Account deletion (self-service or operator)."))
    session.commit()


def _storage_keys_outside_prefix(session: Session, user_id: int) -> list[str]:
    """Objects the rows name outside users/<id>/ (none by our layout, but rows are the truth)."""
    prefix = user_prefix(user_id)
    keys: set[str] = set()
    for (key,) in session.connection().execute(sa.select(Upload.storage_key).where(Upload.user_id == user_id)):  # type: ignore[call-overload]
        keys.add(key)
    for model in session.exec(select(Model3D).where(Model3D.user_id == user_id)):
        keys.update(k for k in [model.glb_key, model.preview_key, *(model.thumbnail_keys or {}).values()] if k)
    for (key,) in session.connection().execute(
            sa.select(PrivacyRequest.export_key).where(PrivacyRequest.user_id == user_id)):  # type: ignore[call-overload]
        if key:
            keys.add(key)
    return sorted(k for k in keys if k and not k.startswith(prefix))


@dataclass
class ErasureResult:
    status: str  # "erased" or "absent" (nothing left to do)
    rows: dict[str, int]
    objects: int
    stripe: list[str]


def erase_user(user_id: int, *, storage: Storage | None = None, actor: str = "system") -> ErasureResult:
    """Erase everything about one user. Safe to repeat after a crash at any point."""
    storage = storage or get_storage()
    with get_session() as session:
        user = session.get(User, user_id)
        if user is None:
            return ErasureResult("absent", {}, 0, [])
        start_erasure(session, user_id=user_id)
        email = user.email
        customers = {user.stripe_customer_id} if user.stripe_customer_id else set()
        subs = Subscription.__table__  # type: ignore[attr-defined]
        customers.update(session.connection().execute(
            sa.select(subs.c.stripe_customer_id).where(subs.c.user_id == user_id)).scalars())
        outside = _storage_keys_outside_prefix(session, user_id)

    # Outside systems first, our rows last: the rows are what tells a rerun there is work left.
    stripe_results = [client.delete_customer(c) for c in sorted(c for c in customers if c)]
    objects = storage.delete_many(outside)
    objects += storage.delete_many(storage.list(user_prefix(user_id)))

    rows: dict[str, int] = {}
    with get_session() as session:
        conn = session.connection()
        for table in user_tables():
            if table.name in KEEP_ON_ERASURE:
                n = conn.execute(table.update().where(table.c.user_id == user_id).values(user_id=None)).rowcount
            else:
                n = conn.execute(table.delete().where(table.c.user_id == user_id)).rowcount
            rows[table.name] = int(n or 0)
        # Rows about this person that only carry the address: anonymous tickets, mails sent before login.
        tickets = SupportTicket.__table__  # type: ignore[attr-defined]
        outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
        rows["support_ticket"] += int(conn.execute(tickets.delete().where(tickets.c.email == email)).rowcount or 0)
        rows["outbox"] += int(conn.execute(outbox.delete().where(outbox.c.to_address == email)).rowcount or 0)
        usr = User.__table__  # type: ignore[attr-defined]
        rows["user"] = int(conn.execute(usr.delete().where(usr.c.id == user_id)).rowcount or 0)
        # No user id, no email: the record says that an erasure happened and how much it removed.
        audit(session, "user.erased", actor=actor, rows=sum(rows.values()), objects=objects,
              stripe=",".join(stripe_results) or "none")
        session.commit()
    # A job that was running during the erasure may have written objects since the first sweep.
    objects += storage.delete_many(storage.list(user_prefix(user_id)))
    return ErasureResult("erased", rows, objects, stripe_results)


def delete_account(session: Session, *, user: User, password: str, client: Client | None = None) -> str:
    """The user's own "delete my account", confirmed with the password.

    Returns "erased", or "scheduled" when part of the erasure failed and the worker will finish it
    (the account is locked and logged out either way).
    """
    fresh = session.get(User, user.id)
    if fresh is None:
        raise NotFound(N_("This account no longer exists."))
    if not verify_password(password or "", fresh.password_hash):
        raise PasswordRequired()
    start_erasure(session, user_id=fresh.id)  # type: ignore[arg-type]
    try:
        erase_user(fresh.id, actor="user")  # type: ignore[arg-type]
    except Exception:
        log.exception("erasure of user %s failed; the worker will retry it", fresh.id)
        return "scheduled"
    return "erased"
