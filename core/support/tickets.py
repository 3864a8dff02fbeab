"""Support tickets and privacy requests (policy clause 8, and clause 6's rights by request).

A privacy request is tracked against the legal deadline: one month from receipt
(GDPR art. 12(3)). The self-service features on "My data" resolve most of them
at once; the rest land here for a person to handle.
"""

from __future__ import annotations

import calendar
from datetime import datetime

from sqlmodel import Session, col, select

from core.accounts.auth import normalise_email
from core.audit import audit, user_actor
from core.config import get_settings
from core.errors import ValidationError
from core.i18n import N_
from core.mail import enqueue_mail
from core.models import PrivacyRequest, SupportTicket, User, utcnow
from core.text import multi_line, single_line

TOPICS = ("question", "billing", "bug", "privacy")
PRIVACY_KINDS = ("access", "correction", "deletion", "objection", "other")
MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 10_000
MAX_DETAILS_CHARS = 4_000


class PrivacyRequestNeedsLogin(ValidationError):
    """Please log in to file a privacy request, so that we know whose data it is about."""

    code = "privacy_request_needs_login"


class MessageIncomplete(ValidationError):
    """Please fill in a subject and a message."""

    code = "message_incomplete"


def add_month(moment: datetime) -> datetime:
    """The same day next month, or that month's last day (31 January → 28/29 February)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def create_privacy_request(session: Session, *, user: User, kind: str, details: str = "",
                           status: str = "open", now: datetime | None = None, notify: bool = True) -> PrivacyRequest:
    """Record a request with its deadline; ``notify`` mails a notice to SUPPORT_EMAIL (a ticket sends its own)."""
    if kind not in PRIVACY_KINDS:
        raise ValidationError(N_("Choose the kind of privacy request."))
    now = now or utcnow()
    req = PrivacyRequest(user_id=int(user.id or 0), kind=kind, status=status,
                         details=multi_line(details)[:MAX_DETAILS_CHARS], created_at=now, due_at=add_month(now))
    session.add(req)
    session.flush()
    audit(session, "privacy.request_created", user_id=user.id, actor=user_actor(user.id), request_id=req.id, kind=kind)
    if notify:
        handled = "" if status == "open" else " (self-service: handled automatically, nothing to do)"
        enqueue_mail(session, to=get_settings().support_email, kind="privacy_notice", user_id=req.user_id,
                     subject=f"Privacy request #{req.id}: {kind}{handled}",
                     body=f"User {req.user_id} filed a {kind} request on {now:%Y-%m-%d}; the legal deadline is "
                          f"{req.due_at:%Y-%m-%d}.\n\n{req.details}\n")
    return req


def create_ticket(session: Session, *, user: User | None, email: str, subject: str, body: str,
                  topic: str = "question", privacy_kind: str | None = None) -> SupportTicket:
    """File a support ticket; a privacy topic also opens a privacy request with its deadline."""
    email = normalise_email(user.email if user is not None else email)
    # The subject becomes a mail header (and a line in the operator's terminal): one line, no controls.
    subject = single_line(subject, message=N_("The subject must be a single line, without line breaks or other "
                                              "control characters."))
    body = multi_line(body)
    if topic not in TOPICS:
        raise ValidationError(N_("Choose a topic."))
    if not subject or not body:
        raise MessageIncomplete()
    if len(subject) > MAX_SUBJECT_CHARS:
        raise ValidationError(N_("The subject is too long (at most {limit} characters)."), limit=MAX_SUBJECT_CHARS)
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError(N_("The message is too long (at most {limit} characters)."), limit=MAX_BODY_CHARS)
    ticket = SupportTicket(user_id=user.id if user else None, email=email, subject=subject, body=body)
    if topic == "privacy":
        if user is None:
            raise PrivacyRequestNeedsLogin()
        req = create_privacy_request(session, user=user, kind=privacy_kind or "other", details=body,
                                     notify=False)
        ticket.privacy_request_id = req.id
        ticket.subject = f"[privacy:{req.kind}] {subject}"[:MAX_SUBJECT_CHARS]
    elif topic != "question":
        ticket.subject = f"[{topic}] {subject}"[:MAX_SUBJECT_CHARS]
    session.add(ticket)
    session.flush()
    enqueue_mail(session, to=get_settings().support_email, kind="support_ticket", user_id=ticket.user_id,
                 subject=f"Ticket #{ticket.id}: {ticket.subject}",
                 body=f"From: {email}\nTopic: {topic}\n\n{body}\n")
    audit(session, "support.ticket_created", user_id=ticket.user_id,
          actor=user_actor(ticket.user_id) if ticket.user_id else "visitor", ticket_id=ticket.id, topic=topic)
    session.commit()
    return ticket


def open_privacy_requests(session: Session) -> list[PrivacyRequest]:
    """Requests still waiting for a person, soonest deadline first (the operator's list)."""
    return list(session.exec(
        select(PrivacyRequest).where(col(PrivacyRequest.status).in_(["open", "failed"]))
        .order_by(col(PrivacyRequest.due_at))
    ).all())
