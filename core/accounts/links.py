"""One-time links: password reset, email change and the login cookie's session link.

Only a hash of each token is stored. Single use is enforced by the database: a link is spent by
``UPDATE ... WHERE used_at IS NULL`` and counts only when that changed one row, so of concurrent
uses exactly one gets through. A new link voids the user's older ones of its purpose; a password
change or reset voids all.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from core.errors import TokenInvalid
from core.models import OneTimeToken, utcnow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def void_tokens(session: Session, *, user_id: int, purpose: str | None = None) -> None:
    """Mark the user's unused links (of ``purpose``, or all) as used, in the caller's transaction."""
    tokens = OneTimeToken.__table__  # type: ignore[attr-defined]
    query = (sa.update(tokens).where(tokens.c.user_id == user_id).where(tokens.c.used_at.is_(None))
             .values(used_at=utcnow()))
    if purpose is not None:
        query = query.where(tokens.c.purpose == purpose)
    session.execute(query)


def store_one_time_token(session: Session, *, user_id: int, purpose: str, token: str, expires_at: datetime,
                          new_email: str | None = None) -> None:
    session.add(OneTimeToken(user_id=user_id, purpose=purpose, token_hash=hash_token(token), new_email=new_email,
                             expires_at=expires_at))


def issue_one_time_token(session: Session, *, user_id: int, purpose: str, minutes: float,
                         new_email: str | None = None) -> str:
    """A new link for ``purpose``; the user's older unused links of that purpose stop working."""
    void_tokens(session, user_id=user_id, purpose=purpose)
    token = secrets.token_urlsafe(32)
    store_one_time_token(session, user_id=user_id, purpose=purpose, token=token, new_email=new_email,
                          expires_at=utcnow() + timedelta(minutes=minutes))
    return token


def peek_one_time_token(session: Session, *, token: str, purpose: str) -> OneTimeToken:
    """The unused, unexpired link row for ``token``, without spending it; else TokenInvalid."""
    row = session.exec(
        select(OneTimeToken).where(OneTimeToken.token_hash == hash_token(token or ""))
        .where(OneTimeToken.purpose == purpose).execution_options(populate_existing=True)
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise TokenInvalid()
    return row


def consume_one_time_token(session: Session, *, token: str, purpose: str) -> OneTimeToken:
    """Spend a link, atomically, in the caller's transaction (a rollback gives it back)."""
    now = utcnow()
    tokens = OneTimeToken.__table__  # type: ignore[attr-defined]
    spent = session.execute(
        sa.update(tokens).where(tokens.c.token_hash == hash_token(token or "")).where(tokens.c.purpose == purpose)
        .where(tokens.c.used_at.is_(None)).where(tokens.c.expires_at > now).values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenInvalid()
    row = session.exec(
        select(OneTimeToken).where(OneTimeToken.token_hash == hash_token(token or ""))
        .where(OneTimeToken.purpose == purpose).execution_options(populate_existing=True)
    ).one()
    return row

