"""Server-side login sessions, and the one-time session link that hands the browser its HttpOnly cookie.

A login cookie carries only a signed session id. Every page run resolves it against the
``auth_session`` table, so logout, a password change or account deletion (which revoke rows)
make a copied cookie useless at once. Only the server sets the cookie
(``core.accounts.web_routes``), in exchange for a session link that the page hands the browser
right after the login.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.accounts.access import NO_CLIENT, Client, record_access
from core.accounts.links import consume_one_time_token, store_one_time_token
from core.config import get_settings
from core.errors import SessionInvalid, TokenInvalid
from core.models import AuthSession, User, pk, utcnow
from core.signing import sign, unsign

log = logging.getLogger(__name__)

SESSION_TOUCH_SECONDS = 60  # last_seen_at is written at most this often
SESSION_COOKIE = "vorm_session"  # the login cookie's name
SESSION_LINK_SECONDS = 60  # a session link must be opened within this time (the page opens it at once)


def session_max_seconds() -> float:
    """The longest lifetime a session cookie is ever signed with (SESSION_DAYS)."""
    return get_settings().session_days * 86400


def create_session(session: Session, *, user: User, client: Client = NO_CLIENT) -> str:
    """Open a server-side session and return the cookie value that names it."""
    days = get_settings().session_days
    sid = secrets.token_urlsafe(32)
    session.add(AuthSession(id=sid, user_id=pk(user), expires_at=utcnow() + timedelta(days=days),
                            ip=client.ip, user_agent=(client.user_agent or "")[:512] or None))
    session.commit()
    return sign({"sid": sid, "uid": user.id}, purpose="session", ttl_seconds=days * 86400)


def _session_claims(token: str | None) -> dict[str, Any]:
    """The signed payload of a session cookie value, or TokenInvalid.

    A cookie is whatever the browser sent: one with characters outside ASCII (which no value of
    ours has) is refused here, before the MAC check, whose constant-time compare only takes ASCII.
    """
    if not token or not token.isascii():
        if token:
            log.info("Refused a session cookie with non-ASCII characters")
        raise TokenInvalid()
    return unsign(token, purpose="session", max_lifetime_seconds=session_max_seconds())


def resolve_session(session: Session, token: str | None) -> tuple[User, AuthSession]:
    """The user behind a cookie value, or SessionInvalid."""
    try:
        payload = _session_claims(token)
    except TokenInvalid:
        raise SessionInvalid() from None
    row = session.get(AuthSession, str(payload.get("sid", "")))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now or row.user_id != payload.get("uid"):
        raise SessionInvalid()
    user = session.get(User, row.user_id)
    if user is None:
        raise SessionInvalid()
    if row.last_seen_at is None or (now - row.last_seen_at).total_seconds() > SESSION_TOUCH_SECONDS:
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return user, row


def issue_session_link(session: Session, *, token: str) -> str:
    """A one-time, short-lived link token for the session behind ``token`` (a cookie value).

    The browser exchanges it at ``/account/session`` for the HttpOnly cookie. It names its session
    (signed), works once (its hash is a one-time token row) and for ``SESSION_LINK_SECONDS``.
    """
    try:
        claims = _session_claims(token)
    except TokenInvalid:
        raise SessionInvalid() from None
    uid = int(claims.get("uid") or 0)
    link = sign({"sid": str(claims.get("sid", "")), "uid": uid, "n": secrets.token_urlsafe(8)},
                purpose="session_link", ttl_seconds=SESSION_LINK_SECONDS)
    # Older links stay valid: another browser's login may be handing over its cookie at the same time.
    store_one_time_token(session, user_id=uid, purpose="session_link", token=link,
                          expires_at=utcnow() + timedelta(seconds=SESSION_LINK_SECONDS))
    session.commit()
    return link


def link_binding(link: str) -> str:
    """The nonce of a session link we issued, which the browser that logged in must show with it."""
    return str(unsign(link, purpose="session_link", max_lifetime_seconds=SESSION_LINK_SECONDS).get("n", ""))


def redeem_session_link(session: Session, *, link: str, binding: str) -> tuple[str, int]:
    """Spend a session link: the cookie value for its session and how many seconds it has left.

    ``binding`` is what the browser holds (``link_binding`` of the link, set by our page): a link
    opened in another browser, without it, is refused and not spent. TokenInvalid when the link is
    forged, expired, already used, unbound, or its session has ended.
    """
    if not link or not link.isascii() or not binding or not binding.isascii():
        raise TokenInvalid()
    claims = unsign(link, purpose="session_link", max_lifetime_seconds=SESSION_LINK_SECONDS)
    if not hmac.compare_digest(str(claims.get("n", "")), binding):
        raise TokenInvalid()
    row = consume_one_time_token(session, token=link, purpose="session_link")
    live = session.get(AuthSession, str(claims.get("sid", "")))
    now = utcnow()
    if (live is None or live.revoked_at is not None or live.expires_at <= now or live.user_id != row.user_id
            or claims.get("uid") != row.user_id):
        session.rollback()
        raise TokenInvalid()
    session.commit()
    seconds = int((live.expires_at - now).total_seconds())
    return sign({"sid": live.id, "uid": live.user_id}, purpose="session", ttl_seconds=seconds), seconds


def revoke_session(session: Session, token: str | None) -> None:
    """Logout: the session row is revoked, so the cookie stops working everywhere."""
    try:
        payload = _session_claims(token)
    except TokenInvalid:
        return
    row = session.get(AuthSession, str(payload.get("sid", "")))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        record_access(session, kind="logout", client=NO_CLIENT, user_id=row.user_id)
        session.commit()


def revoke_sessions(session: Session, *, user_id: int, except_sid: str | None = None) -> int:
    """Revoke the user's open sessions in the caller's transaction (one UPDATE, no commit)."""
    sessions = AuthSession.__table__  # type: ignore[attr-defined]
    query = (sa.update(sessions).where(sessions.c.user_id == user_id).where(sessions.c.revoked_at.is_(None))
             .values(revoked_at=utcnow()))
    if except_sid is not None:
        query = query.where(sessions.c.id != except_sid)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def revoke_all_sessions(session: Session, *, user_id: int, except_sid: str | None = None) -> int:
    count = revoke_sessions(session, user_id=user_id, except_sid=except_sid)
    session.commit()
    return count



def session_id(token: str | None) -> str | None:
    """The session id a cookie value names, or None when it is not a valid cookie value."""
    try:
        return str(_session_claims(token).get("sid", ""))
    except TokenInvalid:
        return None
