"""Privacy requests for admins: listed against their one-month legal deadline, resolved with a note.

The self-service features resolve most requests at once (exports, account deletion); the ones a
person must handle wait with status ``open`` (or ``failed``, when the automatic part failed). An
admin resolves each with a note the user reads on "My data", and that is mailed to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.accounts.roles import require_admin
from core.audit import audit
from core.errors import NotFound, ValidationError
from core.i18n import N_, translate
from core.mail import enqueue_mail
from core.models import PrivacyRequest, User, utcnow
from core.support.inbox import admin_actor
from core.support.tickets import MAX_DETAILS_CHARS

WAITING = ("open", "failed")  #: statuses that wait for a person
OUTCOMES = ("done", "declined")


class RequestNotOpen(ValidationError):
    """This privacy request is not waiting for a person (it is handled automatically or resolved already)."""

    code = "privacy_request_not_open"


class NoteRequired(ValidationError):
    """Please write down what was done: the user reads this note."""

    code = "note_required"


@dataclass
class RequestRow:
    request: PrivacyRequest
    email: str | None
    overdue: bool


def list_requests(session: Session, *, include_resolved: bool = True, limit: int = 200,
                  now: datetime | None = None) -> list[RequestRow]:
    """Waiting requests first, soonest deadline first (so the overdue ones lead); then the rest, newest first."""
    now = now or utcnow()
    waiting = col(PrivacyRequest.status).in_(WAITING)
    stmt = (select(PrivacyRequest, User.email).join(User, col(User.id) == col(PrivacyRequest.user_id), isouter=True)
            .order_by(sa.case((waiting, 0), else_=1), sa.case((waiting, col(PrivacyRequest.due_at)), else_=None),
                      col(PrivacyRequest.id).desc()).limit(limit))
    if not include_resolved:
        stmt = stmt.where(waiting)
    return [RequestRow(req, email, req.status in WAITING and req.due_at < now)
            for req, email in session.exec(stmt).all()]


def resolve(session: Session, *, request_id: int, note: str, admin: User | None = None,
            outcome: str = "done") -> PrivacyRequest:
    """Close a waiting request with a note for the user (shown on "My data" and mailed); commits."""
    note = (note or "").strip()
    if not note:
        raise NoteRequired()
    if len(note) > MAX_DETAILS_CHARS:
        raise ValidationError(N_("The note is too long (at most {limit} characters)."), limit=MAX_DETAILS_CHARS)
    if outcome not in OUTCOMES:
        raise ValidationError(N_("Unknown status: {status}."), status=outcome)
    if admin is not None:  # None: the operator's CLI
        admin = require_admin(session, admin)
    req = session.get(PrivacyRequest, request_id)
    if req is None:
        raise NotFound(N_("This privacy request does not exist."))
    if req.status not in WAITING:
        raise RequestNotOpen()
    now = utcnow()
    req.status, req.resolved_at, req.resolution_note = outcome, now, note
    session.add(req)
    user = session.get(User, req.user_id)
    if user is not None:
        enqueue_mail(session, to=user.email, user_id=user.id, kind="privacy_resolved",
                     subject=translate("Your privacy request #{id} is answered", user.locale, id=req.id),
                     body=translate("Hello {name},\n\nWe handled your privacy request #{id}:\n\n{note}\n\nYou can "
                                    "see every request and its outcome on the My data page.\n\nVorm", user.locale,
                                    name=user.name or user.email, id=req.id, note=note))
    audit(session, "privacy.request_resolved", user_id=req.user_id, actor=admin_actor(admin), request_id=req.id,
          kind=req.kind, outcome=outcome, late=now > req.due_at)
    session.commit()
    return req
