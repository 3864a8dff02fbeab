"""Audited admin actions: requeue a job, change a plan or role, resend a confirmation mail, open content.

Every action needs a typed reason and writes one audit row: ``actor`` is ``admin:<id>``, ``user_id``
the person it concerns (so the row is in that person's export), ``details`` the target and reason.
An admin sees an account's summary (counts, plan, dates) without its content; opening one model or
upload is a separate, audited step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import mail
from core.accounts.roles import require_admin
from core.audit import audit
from core.billing import notices
from core.errors import NotFound, ValidationError
from core.i18n import N_
from core.ids import parse_id
from core.jobs import queue
from core.models import (
    GenerationJob,
    Model3D,
    OneTimeToken,
    OutboxMessage,
    Plan,
    PrivacyRequest,
    Role,
    Subscription,
    SupportTicket,
    Upload,
    User,
    utcnow,
)
from core.storage import get_storage
from core.text import multi_line

MAX_REASON_CHARS = 500
CONTENT_KINDS = ("model", "upload")


class ReasonRequired(ValidationError):
    """Please type a reason: it is kept in the audit log."""

    code = "reason_required"


class LastAdmin(ValidationError):
    """This is the last admin account; make someone else an admin first."""

    code = "last_admin"


class NoPendingConfirmation(NotFound):
    """This account has no email change waiting for confirmation, so there is no mail to send again."""

    code = "no_pending_confirmation"


def _reason(reason: str) -> str:
    reason = multi_line(reason)
    if not reason:
        raise ReasonRequired()
    return reason[:MAX_REASON_CHARS]


def _actor(admin: User) -> str:
    return f"admin:{admin.id}"


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("This account does not exist."))
    return user


def requeue_job(session: Session, *, admin: User, job_id: int, reason: str) -> GenerationJob:
    """Put a failed or cancelled job back in the queue; commits."""
    reason = _reason(reason)
    admin = require_admin(session, admin)
    return queue.requeue(session, job_id=job_id, actor=_actor(admin), admin_id=admin.id, reason=reason)


def set_plan(session: Session, *, admin: User, user_id: int, plan: str, reason: str) -> User:
    reason = _reason(reason)
    admin = require_admin(session, admin)
    if plan not in {p.value for p in Plan}:
        raise ValidationError(N_("The plan must be free or premium."))
    user = _user(session, user_id)
    before, user.plan, user.updated_at = user.plan, plan, utcnow()
    session.add(user)
    audit(session, "admin.plan_changed", user_id=user.id, actor=_actor(admin), admin_id=admin.id,
          target=f"user:{user.id}", before=before, after=plan, reason=reason)
    if before != plan:
        if plan == Plan.PREMIUM:
            notices.premium_started(session, user=user)
        else:
            notices.premium_ended(session, user=user)
    session.commit()
    return user


def set_role(session: Session, *, admin: User, user_id: int, role: str, reason: str) -> User:
    reason = _reason(reason)
    admin = require_admin(session, admin)
    if role not in {r.value for r in Role}:
        raise ValidationError(N_("Unknown role: {role}."), role=role)
    user = _user(session, user_id)
    if user.role == Role.ADMIN and role != Role.ADMIN:
        admins = session.exec(select(sa.func.count()).select_from(User).where(User.role == Role.ADMIN)).one()
        if int(admins) <= 1:
            raise LastAdmin()
    before, user.role, user.updated_at = user.role, role, utcnow()
    session.add(user)
    audit(session, "admin.role_changed", user_id=user.id, actor=_actor(admin), admin_id=admin.id,
          target=f"user:{user.id}", before=before, after=role, reason=reason)
    session.commit()
    return user


def resend_email_confirmation(session: Session, *, admin: User, user_id: int, reason: str) -> str:
    """Mail the pending email change's confirmation link again (a fresh link; the old one stops working).

    This is the only confirmation mail Vorm sends: registration needs no email verification.
    Returns the address it went to; commits.
    """
    from core.privacy.correction import send_email_change_link

    reason = _reason(reason)
    admin = require_admin(session, admin)
    user = _user(session, user_id)
    now = utcnow()
    pending = session.exec(select(OneTimeToken).where(OneTimeToken.user_id == user.id)
                           .where(OneTimeToken.purpose == "email_change").where(col(OneTimeToken.used_at).is_(None))
                           .where(OneTimeToken.expires_at > now).order_by(col(OneTimeToken.id).desc())).first()
    if pending is None or not pending.new_email:
        raise NoPendingConfirmation()
    pending.used_at = now  # one live link at a time
    session.add(pending)
    send_email_change_link(session, user=user, new_email=pending.new_email)
    audit(session, "admin.confirmation_resent", user_id=user.id, actor=_actor(admin), admin_id=admin.id,
          target=f"user:{user.id}", reason=reason)
    session.commit()
    return pending.new_email


@dataclass
class AccountSummary:
    """What an admin may see of an account without opening its content."""

    id: int
    email: str
    name: str
    role: str
    plan: str
    locale: str
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None
    subscription: str | None
    counts: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    storage_bytes: int = 0


def find_users(session: Session, *, query: str, limit: int = 20) -> list[User]:
    """Accounts whose email contains ``query`` (or with that id)."""
    query = (query or "").strip().lower()
    stmt = select(User)
    if query.isascii() and query.isdigit():
        number = parse_id(query)
        if number is None:
            return []  # an id no row can have
        stmt = stmt.where(User.id == number)
    elif query.isdigit():
        return []  # other scripts' digits ("²"): neither an id nor part of an address
    elif query:
        stmt = stmt.where(col(User.email).contains(query))
    return list(session.exec(stmt.order_by(col(User.id)).limit(limit)).all())


def account_summary(session: Session, *, user_id: int) -> AccountSummary:
    user = _user(session, user_id)

    def count(model: Any) -> int:
        table = model.__table__
        return int(session.exec(select(sa.func.count()).select_from(table).where(table.c.user_id == user_id)).one())

    jobs = session.exec(select(GenerationJob.status, sa.func.count())  # type: ignore[call-overload]
                        .where(GenerationJob.user_id == user_id).group_by(col(GenerationJob.status))).all()
    sub = session.exec(select(Subscription.status).where(Subscription.user_id == user_id)
                       .order_by(col(Subscription.id).desc())).first()
    size = session.exec(select(sa.func.coalesce(sa.func.sum(Upload.size_bytes), 0))
                        .where(Upload.user_id == user_id)).one()
    return AccountSummary(
        id=int(user.id or 0), email=user.email, name=user.name, role=user.role, plan=user.plan, locale=user.locale,
        created_at=user.created_at, last_login_at=user.last_login_at, locked_until=user.locked_until,
        subscription=sub,
        counts={"uploads": count(Upload), "models": count(Model3D), "tickets": count(SupportTicket),
                "privacy_requests": count(PrivacyRequest)},
        jobs={str(s): int(n) for s, n in jobs}, storage_bytes=int(size or 0))


def content_ids(session: Session, *, user_id: int, kind: str, limit: int = 200) -> list[int]:
    """Ids only (no names or files) of a user's models or uploads, to choose one to open."""
    model = Model3D if kind == "model" else Upload
    return [int(i or 0) for i in session.exec(select(model.id).where(model.user_id == user_id)  # type: ignore[call-overload]
                                         .order_by(col(model.id).desc()).limit(limit)).all()]


@dataclass
class OpenedContent:
    kind: str
    id: int
    name: str
    created_at: datetime
    url: str
    image_url: str | None


def open_content(session: Session, *, admin: User, user_id: int, kind: str, item_id: int,
                 reason: str) -> OpenedContent:
    """Open one of a user's models or uploads (a short-lived link); the reason is audited first; commits."""
    reason = _reason(reason)
    admin = require_admin(session, admin)
    if kind not in CONTENT_KINDS:
        raise ValidationError(N_("Unknown content kind: {kind}."), kind=kind)
    model = Model3D if kind == "model" else Upload
    row: Any = session.get(model, item_id)
    if row is None or row.user_id != user_id:
        raise NotFound(N_("This item does not exist."))
    audit(session, "admin.content_opened", user_id=user_id, actor=_actor(admin), admin_id=admin.id,
          target=f"{kind}:{item_id}", reason=reason)
    session.commit()
    storage = get_storage()
    if kind == "model":
        thumbs = row.thumbnail_keys or {}
        image = next(iter(thumbs.values()), None)
        return OpenedContent(kind, item_id, row.name, row.created_at, storage.url(row.glb_key, filename="model.glb"),
                             storage.url(image) if image else None)
    return OpenedContent(kind, item_id, row.filename, row.created_at, storage.url(row.storage_key),
                         storage.url(row.storage_key))


def outbox(session: Session, *, admin: User, status: str | None = None, limit: int = 200) -> list[OutboxMessage]:
    """The email outbox for the admin page, newest first (the actor's role checked now)."""
    require_admin(session, admin)
    if status is not None and status not in mail.STATUSES:
        raise ValidationError(N_("Unknown status: {status}."), status=status)
    return mail.list_messages(session, status=status, limit=limit)


def open_outbox_message(session: Session, *, admin: User, message_id: int) -> OutboxMessage:
    """One outbox message with its text, whose links (a reset, a confirmation) act for its recipient:
    the opening is audited; commits."""
    admin = require_admin(session, admin)
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(N_("This message does not exist."))
    audit(session, "admin.mail_opened", user_id=row.user_id, actor=_actor(admin), admin_id=admin.id,
          target=f"outbox:{row.id}", kind=row.kind)
    session.commit()
    session.refresh(row)
    return row
