"""Transactional email: an outbox table, delivered over SMTP by the worker.

Writing to the outbox happens in the caller's transaction, so a mail goes out
if and only if what it announces was committed.

The outbox is a queue no single message can stop: each message is built and sent inside its own
error handling. One that can never be sent (a header Python's ``email`` refuses, an address the
server rejects for good) is marked ``failed`` with its reason and counted on ``/metrics``; one
that fails for now is retried with an exponential backoff, and the least tried go first, so a
message that keeps failing never holds up the others.

Without ``SMTP_HOST`` (the embedded default) nothing is sent: each mail's recipient, subject and
links are written to the log of the process that queued it once its transaction commits, and the
admin page's Outbox tab and ``python -m core.manage outbox`` show the messages themselves.
"""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from core.config import get_settings
from core.models import OutboxMessage, utcnow
from core.text import escape

log = logging.getLogger(__name__)

MAX_MAIL_ATTEMPTS = 8
RETRY_BASE_SECONDS = 60  # doubles on each failed attempt: 2 min, 4 min, ... about 4 h before the last
RETRY_MAX_SECONDS = 6 * 3600
MAX_ERROR_CHARS = 1000
STATUSES = ("pending", "sent", "failed")

_LINK_RE = re.compile(r"https?://\S+")
_LOG_KEY = "vorm_mail_to_log"


class UnsendableMessage(Exception):
    """A message that no retry can send (its headers cannot be built, or the server refused it for good)."""


def enqueue_mail(
    session: Session, *, to: str, subject: str, body: str, kind: str, user_id: int | None = None
) -> OutboxMessage:
    msg = OutboxMessage(to_address=to, subject=subject, body=body, kind=kind, user_id=user_id)
    session.add(msg)
    if not get_settings().smtp_host:
        _log_after_commit(session, msg)
    return msg


def _log_after_commit(session: Session, msg: OutboxMessage) -> None:
    """Without SMTP the log is where an operator sees a mail: written once the transaction commits."""
    # The values now: after the commit the instance is expired, and that hook may not query.
    session.info.setdefault(_LOG_KEY, []).append((msg.to_address, msg.kind, msg.subject, msg.body))
    if session.info.get(_LOG_KEY + ".listening"):
        return
    session.info[_LOG_KEY + ".listening"] = True

    def committed(sess: Any) -> None:
        for to, kind, subject, body in sess.info.pop(_LOG_KEY, []):
            log_unsent(to=to, kind=kind, subject=subject, body=body)

    def rolled_back(sess: Any) -> None:
        sess.info.pop(_LOG_KEY, None)

    # For this session's life (a request, a job): short, so the listeners go with it.
    sa.event.listen(session, "after_commit", committed)
    sa.event.listen(session, "after_rollback", rolled_back)


def log_unsent(*, to: str, kind: str, subject: str, body: str) -> None:
    """One mail that waits in the outbox (no SMTP_HOST): recipient, subject and its links, escaped."""
    links = " ".join(escape(link) for link in _LINK_RE.findall(body or "")) or "-"
    log.warning("Mail not sent (no SMTP_HOST set; it waits in the outbox): to=%s kind=%s subject=%s links: %s",
                escape(to), escape(kind), escape(subject), links)


def _build(row: OutboxMessage, mail_from: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = row.to_address
    email["Subject"] = row.subject
    email["Message-ID"] = make_msgid(domain="vorm.local")
    email.set_content(row.body)
    return email


def _permanent(exc: smtplib.SMTPException) -> bool:
    """The server said no for good (5xx), as opposed to not now (4xx, a dropped connection)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(int(code) >= 500 for code, _msg in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and int(exc.smtp_code) >= 500


def _reason(exc: BaseException) -> str:
    return escape(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]


def retry_delay_seconds(attempts: int) -> int:
    return int(min(RETRY_BASE_SECONDS * 2 ** max(attempts, 0), RETRY_MAX_SECONDS))


def deliver_pending(session: Session, *, limit: int = 100) -> dict[str, int]:
    """Send due outbox messages, each on its own; returns counts (sent, failed now, retried later)."""
    settings = get_settings()
    if not settings.smtp_host:
        return {"sent": 0, "failed": 0, "skipped": 1}
    now = utcnow()
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .where(or_(col(OutboxMessage.next_attempt_at).is_(None), col(OutboxMessage.next_attempt_at) <= now))
        # The least tried first: a message that keeps failing waits behind every fresh one.
        .order_by(col(OutboxMessage.attempts), col(OutboxMessage.id))
        .limit(limit)
    ).all()
    if not rows:
        return {"sent": 0, "failed": 0}
    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20)
    except OSError as exc:
        log.warning("SMTP server %s:%s not reachable: %s", settings.smtp_host, settings.smtp_port, exc)
        return {"sent": 0, "failed": 0, "unreachable": 1}
    sent = failed = retried = 0
    with smtp:
        try:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
        except (smtplib.SMTPException, OSError) as exc:
            log.error("SMTP server %s:%s refused the session: %s", settings.smtp_host, settings.smtp_port, exc)
            return {"sent": 0, "failed": 0, "unreachable": 1}
        for row in rows:
            row.attempts = (row.attempts or 0) + 1
            connection_lost = False
            try:
                try:
                    email = _build(row, settings.mail_from)
                except Exception as exc:  # noqa: BLE001 - any header or body email refuses is this row's fault
                    raise UnsendableMessage(_reason(exc)) from exc
                try:
                    smtp.send_message(email)
                except smtplib.SMTPException as exc:
                    if _permanent(exc):
                        raise UnsendableMessage(_reason(exc)) from exc
                    raise
            except UnsendableMessage as exc:
                row.status, row.last_error, row.next_attempt_at = "failed", str(exc)[:MAX_ERROR_CHARS], None
                failed += 1
                log.error("Outbox message %s can never be sent, marked failed: %s", row.id, exc)
            except (smtplib.SMTPException, OSError) as exc:
                connection_lost = isinstance(exc, smtplib.SMTPServerDisconnected | OSError)
                row.last_error = _reason(exc)
                if row.attempts >= MAX_MAIL_ATTEMPTS:
                    row.status = "failed"
                    failed += 1
                    log.error("Outbox message %s failed %s times, given up: %s", row.id, row.attempts, row.last_error)
                else:
                    row.next_attempt_at = utcnow() + timedelta(seconds=retry_delay_seconds(row.attempts))
                    retried += 1
                    log.warning("Outbox message %s not sent (attempt %s), retried later: %s", row.id, row.attempts,
                                row.last_error)
            else:
                row.status, row.sent_at, row.last_error = "sent", utcnow(), None
                sent += 1
            session.add(row)
            session.commit()
            if connection_lost:  # the rest wait for the next run, untouched
                break
    result = {"sent": sent, "failed": failed}
    if retried:
        result["retried"] = retried
    return result


def list_messages(session: Session, *, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    """The outbox, newest first (for the admin page and ``core.manage outbox``)."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(session.exec(query).all())


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.exec(select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({str(status): int(n) for status, n in rows})
    return counts
