"""Password reset by an emailed one-time link, rate-limited per address and per client IP."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from core.accounts.access import NO_CLIENT, Client, record_access
from core.accounts.auth import check_password_strength, get_user_by_email, hash_password
from core.accounts.links import consume_one_time_token, issue_one_time_token, peek_one_time_token, void_tokens
from core.accounts.sessions import revoke_sessions
from core.audit import audit, user_actor
from core.config import get_settings, public_url
from core.errors import TokenInvalid
from core.mail import enqueue_mail
from core.models import AccessEvent, OneTimeToken, User, pk, utcnow

RESET_RATE_WINDOW = timedelta(hours=1)


def _serialise(session: Session, name: str) -> None:
    """Make concurrent check-then-write transactions on ``name`` take turns until commit.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do here, the first write of
    the transaction takes the database's write lock, so the caller writes before it counts.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"vorm:{name}".encode()).digest()[:8], "big", signed=True)
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def request_password_reset(session: Session, *, email: str, client: Client = NO_CLIENT) -> None:
    """Mail a one-time reset link. Says nothing about whether the account exists.

    Rate-limited per address (``RESET_MAILS_PER_ADDRESS_PER_HOUR``, so nobody can flood an inbox)
    and per client IP (``RESET_REQUESTS_PER_IP_PER_HOUR``). A refused request looks exactly like a
    granted one to the asker; the access log records why no mail went.
    """
    settings = get_settings()
    user = get_user_by_email(session, email)
    _serialise(session, "password_reset")
    event = record_access(session, kind="reset_requested", client=client, user_id=user.id if user else None)
    session.flush()  # this request counts itself; on SQLite the write lock now holds the counts below still
    since = utcnow() - RESET_RATE_WINDOW
    reason = None
    if event.ip is not None:
        from_ip = session.exec(select(sa.func.count()).select_from(AccessEvent)
                               .where(AccessEvent.kind == "reset_requested").where(AccessEvent.ip == event.ip)
                               .where(AccessEvent.created_at >= since)).one()
        if from_ip > settings.reset_requests_per_ip_per_hour:
            reason = "rate_limited_ip"
    if reason is None and user is None:
        reason = "unknown_email"
    if reason is None and user is not None:
        mailed = session.exec(select(sa.func.count()).select_from(OneTimeToken)
                              .where(OneTimeToken.user_id == user.id).where(OneTimeToken.purpose == "password_reset")
                              .where(OneTimeToken.created_at >= since)).one()
        if mailed >= settings.reset_mails_per_address_per_hour:
            reason = "rate_limited_address"
    if reason is not None or user is None:
        event.reason = reason
        session.add(event)
        session.commit()
        return
    token = issue_one_time_token(session, user_id=pk(user), purpose="password_reset",
                                 minutes=settings.reset_token_minutes)
    link = f"{public_url()}/?reset={token}"
    from core.i18n import translate

    enqueue_mail(
        session,
        to=user.email,
        user_id=user.id,
        kind="password_reset",
        subject=translate("Reset your Vorm password", user.locale),
        body=translate("Hello {name},\n\nSomeone (hopefully you) asked to reset your Vorm password. Open this link "
                       "within {minutes} minutes to choose a new one:\n\n{link}\n\nIf it was not you, ignore this "
                       "email; your password stays as it is.\n\nVorm",
                       user.locale, name=user.name or user.email, link=link,
                       minutes=settings.reset_token_minutes),
    )
    session.commit()


def reset_password(session: Session, *, token: str, new_password: str) -> User:
    """Set a new password from an emailed link: the link is spent, every other link and session ends."""
    row = peek_one_time_token(session, token=token, purpose="password_reset")
    user = session.get(User, row.user_id)
    if user is None:
        raise TokenInvalid()
    check_password_strength(new_password, email=user.email)
    # Hashed before the link is spent: bcrypt takes a while, and SQLite holds its write lock from the
    # first write of a transaction to its commit.
    new_hash = hash_password(new_password)
    consume_one_time_token(session, token=token, purpose="password_reset")
    user.password_hash = new_hash
    user.failed_logins, user.locked_until, user.updated_at = 0, None, utcnow()
    session.add(user)
    void_tokens(session, user_id=pk(user))
    revoke_sessions(session, user_id=pk(user))
    audit(session, "user.password_reset", user_id=user.id, actor=user_actor(user.id))
    session.commit()
    return user

