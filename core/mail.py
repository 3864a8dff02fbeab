"""Transactional email: an outbox table, delivered over SMTP by the worker.

Writing to the outbox happens in the caller's transaction, so a mail goes out
if and only if what it announces was committed.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlmodel import Session, col, or_, select

from core.config import get_settings
from core.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

MAX_MAIL_ATTEMPTS = 8
RETRY_BASE_SECONDS = 60  # doubles on each failed attempt


def enqueue_mail(
    session: Session, *, to: str, subject: str, body: str, kind: str, user_id: int | None = None
) -> OutboxMessage:
    msg = OutboxMessage(to_address=to, subject=subject, body=body, kind=kind, user_id=user_id)
    session.add(msg)
    return msg


def deliver_pending(session: Session, *, limit: int = 100) -> dict[str, int]:
    """Send due outbox messages; failures are retried later with backoff."""
    settings = get_settings()
    if not settings.smtp_host:
        return {"sent": 0, "failed": 0, "skipped": 1}
    now = utcnow()
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .where(or_(col(OutboxMessage.next_attempt_at).is_(None), col(OutboxMessage.next_attempt_at) <= now))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    ).all()
    sent = failed = 0
    if not rows:
        return {"sent": 0, "failed": 0}
    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20)
    except OSError as exc:
        log.warning("SMTP server %s:%s not reachable: %s", settings.smtp_host, settings.smtp_port, exc)
        return {"sent": 0, "failed": 0, "unreachable": 1}
    with smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        for row in rows:
            email = EmailMessage()
            email["From"] = settings.mail_from
            email["To"] = row.to_address
            email["Subject"] = row.subject
            email["Message-ID"] = make_msgid(domain="vorm.local")
            email.set_content(row.body)
            row.attempts += 1
            try:
                smtp.send_message(email)
                row.status, row.sent_at, row.last_error = "sent", utcnow(), None
                sent += 1
            except smtplib.SMTPException as exc:
                row.last_error = str(exc)[:1000]
                failed += 1
                if (row.attempts or 0) >= MAX_MAIL_ATTEMPTS:
                    row.status = "failed"
                else:
                    row.next_attempt_at = utcnow() + timedelta(seconds=RETRY_BASE_SECONDS * 2 ** row.attempts)
            session.add(row)
            session.commit()
    return {"sent": sent, "failed": failed}
