"""The support inbox (policy clause 8): a thread per ticket between the user and support.

A ticket's body is the thread's first message; ``support_message`` rows follow it. Support's
replies are mailed to the user through the outbox in the user's language; the user's answers
notify ``SUPPORT_EMAIL``. Status: ``open`` (waiting for support) → ``answered`` (waiting for
the user) → ``open`` again when the user answers; ``closed`` by an admin. Every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.accounts.roles import require_admin
from core.audit import audit, user_actor
from core.config import get_settings, public_url
from core.errors import NotFound, ValidationError
from core.i18n import N_, translate
from core.mail import enqueue_mail
from core.models import SupportMessage, SupportTicket, User, utcnow
from core.support.tickets import MAX_BODY_CHARS, MessageIncomplete
from core.text import multi_line

TICKET_STATUSES = ("open", "answered", "closed")


class TicketNotFound(NotFound):
    """This ticket does not exist, or it is not yours."""

    code = "ticket_not_found"


class TicketClosed(ValidationError):
    """This ticket is closed. Please open a new one on the support page."""

    code = "ticket_closed"


@dataclass
class Thread:
    ticket: SupportTicket
    messages: list[SupportMessage]


def admin_actor(admin: User | None) -> str:
    """The audit log's actor for an admin (by id) or, without one, the operator's CLI."""
    return f"admin:{admin.id}" if admin is not None else "operator"


def _body(body: str) -> str:
    body = multi_line(body)
    if not body:
        raise MessageIncomplete(N_("Please write a message."))
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError(N_("The message is too long (at most {limit} characters)."), limit=MAX_BODY_CHARS)
    return body


def list_tickets(session: Session, *, status: str | None = None, limit: int = 200) -> list[SupportTicket]:
    """Tickets for the inbox, those waiting longest first; ``status`` filters (open, answered, closed)."""
    if status is not None and status not in TICKET_STATUSES:
        raise ValidationError(N_("Unknown status: {status}."), status=status)
    stmt = select(SupportTicket)
    if status:
        stmt = stmt.where(SupportTicket.status == status)
    return list(session.exec(stmt.order_by(col(SupportTicket.updated_at), col(SupportTicket.id)).limit(limit)).all())


def user_tickets(session: Session, *, user: User, limit: int = 50) -> list[SupportTicket]:
    """The user's own tickets, newest activity first (the Support page)."""
    return list(session.exec(select(SupportTicket).where(SupportTicket.user_id == user.id)
                             .order_by(col(SupportTicket.updated_at).desc()).limit(limit)).all())


def get_thread(session: Session, *, ticket_id: int, user: User | None = None) -> Thread:
    """A ticket with its messages, oldest first; with ``user``, only that user's own ticket."""
    ticket = session.get(SupportTicket, ticket_id)
    if ticket is None or (user is not None and ticket.user_id != user.id):
        raise TicketNotFound()
    messages = session.exec(select(SupportMessage).where(SupportMessage.ticket_id == ticket_id)
                            .order_by(col(SupportMessage.created_at), col(SupportMessage.id))).all()
    return Thread(ticket, list(messages))


def reply(session: Session, *, ticket_id: int, body: str, admin: User | None = None) -> SupportMessage:
    """Support answers: the message joins the thread and is mailed to the user in their language; commits."""
    body = _body(body)
    if admin is not None:  # None: the operator's CLI
        admin = require_admin(session, admin)
    ticket = session.get(SupportTicket, ticket_id)
    if ticket is None:
        raise TicketNotFound()
    owner = session.get(User, ticket.user_id) if ticket.user_id else None
    now = utcnow()
    message = SupportMessage(ticket_id=ticket_id, user_id=ticket.user_id, author="support",
                             admin_id=admin.id if admin is not None else None, body=body, created_at=now)
    session.add(message)
    ticket.status, ticket.updated_at = "answered", now
    session.add(ticket)
    lang = owner.locale if owner is not None else None
    link = f"{public_url()}/support" if owner is not None else ""
    enqueue_mail(session, to=ticket.email, user_id=ticket.user_id, kind="support_reply",
                 subject=translate("Re: {subject} (ticket #{id})", lang, subject=ticket.subject, id=ticket.id),
                 body=translate("Hello,\n\nSupport answered your ticket #{id}:\n\n{body}\n\n{more}Vorm", lang,
                                id=ticket.id, body=body,
                                more=translate("You can answer on the support page: {link}\n\n", lang, link=link)
                                if link else translate("Reply to this email to answer.\n\n", lang)))
    session.flush()
    audit(session, "support.replied", user_id=ticket.user_id, actor=admin_actor(admin), ticket_id=ticket.id,
          message_id=message.id)
    session.commit()
    return message


def answer(session: Session, *, ticket_id: int, user: User, body: str) -> SupportMessage:
    """The user answers in their own thread: the ticket is open again and support is told; commits."""
    body = _body(body)
    ticket = session.get(SupportTicket, ticket_id)
    if ticket is None or ticket.user_id != user.id:
        raise TicketNotFound()
    if ticket.status == "closed":
        raise TicketClosed()
    now = utcnow()
    message = SupportMessage(ticket_id=ticket_id, user_id=user.id, author="user", body=body, created_at=now)
    session.add(message)
    ticket.status, ticket.updated_at = "open", now
    session.add(ticket)
    enqueue_mail(session, to=get_settings().support_email, kind="support_ticket", user_id=user.id,
                 subject=f"Ticket #{ticket.id} answered: {ticket.subject}",
                 body=f"From: {ticket.email}\n\n{body}\n\nReply with: python -m core.manage ticket {ticket.id} "
                      f"--reply TEXT, or on the admin page.\n")
    session.flush()
    audit(session, "support.answered", user_id=user.id, actor=user_actor(user.id), ticket_id=ticket.id,
          message_id=message.id)
    session.commit()
    return message


def close(session: Session, *, ticket_id: int, admin: User | None = None) -> SupportTicket:
    """An admin closes a ticket; commits."""
    if admin is not None:  # None: the operator's CLI
        admin = require_admin(session, admin)
    ticket = session.get(SupportTicket, ticket_id)
    if ticket is None:
        raise TicketNotFound()
    ticket.status, ticket.updated_at = "closed", utcnow()
    session.add(ticket)
    audit(session, "support.closed", user_id=ticket.user_id, actor=admin_actor(admin), ticket_id=ticket.id)
    session.commit()
    return ticket


def message_counts(session: Session, ticket_ids: list[int]) -> dict[int, int]:
    """How many messages each ticket's thread holds beyond its first (one query)."""
    if not ticket_ids:
        return {}
    rows = session.exec(select(SupportMessage.ticket_id, sa.func.count())  # type: ignore[call-overload]
                        .where(col(SupportMessage.ticket_id).in_(ticket_ids)).group_by(col(SupportMessage.ticket_id)))
    return {int(t): int(n) for t, n in rows}
