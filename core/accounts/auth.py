"""Accounts, passwords, lockout and server-side sessions.

No Streamlit here: the web process wraps these in widgets, the CLI and tests call them directly.

A login cookie carries only a signed session id. Every page run resolves it
against the ``auth_session`` table, so logout, a password change or account
deletion (which revoke rows) make a copied cookie useless at once. The cookie is
HttpOnly: only the server sets it (``core.accounts.web_routes``), in exchange for a
one-time session link that the page hands the browser right after the login.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import bcrypt
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.accounts.signing import sign, unsign
from core.audit import audit
from core.config import get_settings, public_url
from core.errors import (
    DuplicateEmail,
    InvalidEmail,
    LoginRefused,
    NotFound,
    SessionInvalid,
    TokenInvalid,
    ValidationError,
    WeakPassword,
    WrongCredentials,
)
from core.i18n import N_
from core.mail import enqueue_mail
from core.models import AccessEvent, AuthSession, OneTimeToken, PolicyAcceptance, Role, User, pk, utcnow
from core.privacy import policy

log = logging.getLogger(__name__)

BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything past 72 bytes; refuse rather than truncate silently
SESSION_TOUCH_SECONDS = 60  # last_seen_at is written at most this often
SESSION_COOKIE = "vorm_session"  # the login cookie's name
SESSION_LINK_SECONDS = 60  # a session link must be opened within this time (the page opens it at once)

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
# A real hash to check against when the account does not exist, so both cases take as long.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(BCRYPT_ROUNDS))


@dataclass(frozen=True)
class Client:
    """Where a request came from (st.context in the web process)."""

    ip: str | None = None
    user_agent: str | None = None


NO_CLIENT = Client()


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise InvalidEmail()
    return email


def check_password_strength(password: str, *, email: str = "") -> None:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise WeakPassword(N_("The password is too long: use at most 72 bytes."))
    if (
        len(password) < MIN_PASSWORD_LENGTH
        or not re.search(r"[A-Za-z]", password)
        or not re.search(r"\d", password)
        or (email and password.lower() == email.lower())
    ):
        raise WeakPassword()


def _hasher() -> Any:
    # streamlit-authenticator (the client's auth library) imports Streamlit: only the web process and
    # the operator CLI hash or check passwords, so the worker never pays for that import. Outside a
    # Streamlit run (the CLI) that import logs "no runtime" warnings meant for app authors: hush them.
    import sys

    if "streamlit_authenticator" not in sys.modules:
        logging.disable(logging.WARNING)
        try:
            import streamlit_authenticator  # noqa: F401
        finally:
            logging.disable(logging.NOTSET)
    from streamlit_authenticator.utilities.hasher import Hasher

    return Hasher


def hash_password(password: str) -> str:
    """bcrypt (12 rounds), through streamlit-authenticator's Hasher."""
    return str(_hasher().hash(password))


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bool(_hasher().check_pw(password, password_hash))
    except ValueError:  # not a bcrypt hash: an erased account's "!erased", or a password past 72 bytes
        return False


def record_access(session: Session, *, kind: str, client: Client, user_id: int | None = None,
                  reason: str | None = None) -> AccessEvent:
    event = AccessEvent(user_id=user_id, kind=kind, reason=reason, ip=(client.ip or "")[:64] or None,
                        user_agent=(client.user_agent or "")[:512] or None)
    session.add(event)
    return event


def get_user_by_email(session: Session, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    return session.exec(select(User).where(User.email == email)).first()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    name: str = "",
    role: str = Role.USER,
    plan: str = "free",
    locale: str = "en",
    accepted_policy: str | None = None,
) -> User:
    """Create an account. ``accepted_policy`` records which policy version the person accepted."""
    email = normalise_email(email)
    check_password_strength(password, email=email)
    name = (name or "").strip()
    if len(name) > 120:
        raise ValidationError(N_("The name is too long (at most 120 characters)."))
    if plan not in ("free", "premium"):
        raise ValidationError(N_("The plan must be free or premium."))
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise DuplicateEmail()
    user = User(email=email, name=name, password_hash=hash_password(password), role=role, plan=plan,
                locale=locale if locale in ("nl", "en") else "en")
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # a concurrent registration won the race
        session.rollback()
        raise DuplicateEmail() from None
    if accepted_policy:
        session.add(PolicyAcceptance(user_id=pk(user), version=accepted_policy))
        user.policy_acknowledged_version = accepted_policy
    audit(session, "user.created", user_id=user.id, role=role, plan=plan)
    return user


def register(session: Session, *, email: str, name: str, password: str, accepted_policy: bool,
             locale: str = "en", client: Client = NO_CLIENT) -> User:
    """Self-service registration: the current privacy policy must be accepted."""
    if not accepted_policy:
        raise ValidationError(N_("Please accept the privacy policy to create an account."))
    user = create_user(session, email=email, password=password, name=name, locale=locale,
                       accepted_policy=policy.current().version)
    user.last_login_at = utcnow()  # registering logs the person in
    record_access(session, kind="register", client=client, user_id=user.id)
    session.commit()
    return user


def authenticate(session: Session, *, email: str, password: str, client: Client = NO_CLIENT) -> User:
    """Check a login. Failures are counted; too many lock the account for a while.

    An unknown address, a wrong password and a locked account look the same from outside: one
    message (``LoginRefused``) and one bcrypt check each, so neither the text nor the time tells
    which accounts exist. The access log records which it was.

    The counter is raised in the database (``failed_logins + 1``), never read and written back, so
    concurrent failures all count and the lock starts at the threshold whatever the timing.
    """
    settings = get_settings()
    user = get_user_by_email(session, email)
    if user is None:
        bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], _DUMMY_HASH)
        record_access(session, kind="login_failed", client=client, reason="unknown_email")
        session.commit()
        raise LoginRefused()
    uid = pk(user)
    password_ok = verify_password(password, user.password_hash)  # before looking at the lock: same time
    now = utcnow()
    users = User.__table__  # type: ignore[attr-defined]
    lock_over = sa.and_(users.c.locked_until.is_not(None), users.c.locked_until <= now)
    if password_ok:
        # Succeeds only while the account is not locked, checked and cleared in one statement.
        done = session.execute(
            sa.update(users).where(users.c.id == uid)
            .where(sa.or_(users.c.locked_until.is_(None), users.c.locked_until <= now))
            .values(failed_logins=0, locked_until=None, last_login_at=now)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            record_access(session, kind="login", client=client, user_id=uid)
            session.commit()
            session.refresh(user)
            return user
        record_access(session, kind="login_failed", client=client, user_id=uid, reason="locked")
        session.commit()
        raise LoginRefused()
    # A lock that has run out starts a fresh count.
    failed, locked_until = session.execute(
        sa.update(users).where(users.c.id == uid)
        .values(failed_logins=sa.case((lock_over, 1), else_=users.c.failed_logins + 1),
                locked_until=sa.case((lock_over, None), else_=users.c.locked_until))
        .returning(users.c.failed_logins, users.c.locked_until)
    ).one()
    if locked_until is not None:
        reason = "locked"
    elif failed >= settings.max_failed_logins:
        locked = session.execute(sa.update(users).where(users.c.id == uid).where(users.c.locked_until.is_(None))
                                 .values(locked_until=now + timedelta(minutes=settings.lockout_minutes)))
        reason = "locked_out" if locked.rowcount == 1 else "locked"  # type: ignore[attr-defined]
        if reason == "locked_out":
            audit(session, "user.locked_out", user_id=uid, failed_logins=failed)
    else:
        reason = "wrong_password"
    record_access(session, kind="login_failed", client=client, user_id=uid, reason=reason)
    session.commit()
    raise LoginRefused()


# --- sessions -----------------------------------------------------------


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
    return unsign(token, purpose="session")


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
    _store_one_time_token(session, user_id=uid, purpose="session_link", token=link,
                          expires_at=utcnow() + timedelta(seconds=SESSION_LINK_SECONDS))
    session.commit()
    return link


def redeem_session_link(session: Session, *, link: str) -> tuple[str, int]:
    """Spend a session link: the cookie value for its session and how many seconds it has left.

    TokenInvalid when the link is forged, expired, already used, or its session has ended.
    """
    if not link or not link.isascii():
        raise TokenInvalid()
    claims = unsign(link, purpose="session_link")
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


def _revoke_sessions(session: Session, *, user_id: int, except_sid: str | None = None) -> int:
    """Revoke the user's open sessions in the caller's transaction (one UPDATE, no commit)."""
    sessions = AuthSession.__table__  # type: ignore[attr-defined]
    query = (sa.update(sessions).where(sessions.c.user_id == user_id).where(sessions.c.revoked_at.is_(None))
             .values(revoked_at=utcnow()))
    if except_sid is not None:
        query = query.where(sessions.c.id != except_sid)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def revoke_all_sessions(session: Session, *, user_id: int, except_sid: str | None = None) -> int:
    count = _revoke_sessions(session, user_id=user_id, except_sid=except_sid)
    session.commit()
    return count


def change_password(session: Session, *, user_id: int, old_password: str, new_password: str,
                    keep_token: str | None = None) -> None:
    """Change the password and end every session of the user but ``keep_token``'s (the browser that did it).

    Without ``keep_token`` every session ends and the caller logs in again. Every outstanding
    one-time link (reset, email change) dies with the old password.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    if not verify_password(old_password, user.password_hash):
        raise WrongCredentials(N_("The current password is wrong."))
    check_password_strength(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    user.updated_at = utcnow()
    session.add(user)
    keep_sid = None
    if keep_token:
        try:
            keep_sid = str(_session_claims(keep_token).get("sid", ""))
        except TokenInvalid:
            keep_sid = None
    # One transaction: the new password, no old link and no other session exist only together.
    _void_tokens(session, user_id=pk(user))
    _revoke_sessions(session, user_id=pk(user), except_sid=keep_sid)
    audit(session, "user.password_changed", user_id=user.id)
    record_access(session, kind="password_changed", client=NO_CLIENT, user_id=user.id)
    session.commit()


# --- one-time links -----------------------------------------------------
#
# Single use is enforced by the database: a link is spent by ``UPDATE ... WHERE used_at IS NULL``
# and counts only when that changed one row, so of concurrent uses exactly one gets through.
# A new link voids the user's older ones of its purpose; a password change or reset voids all.


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _void_tokens(session: Session, *, user_id: int, purpose: str | None = None) -> None:
    """Mark the user's unused links (of ``purpose``, or all) as used, in the caller's transaction."""
    tokens = OneTimeToken.__table__  # type: ignore[attr-defined]
    query = (sa.update(tokens).where(tokens.c.user_id == user_id).where(tokens.c.used_at.is_(None))
             .values(used_at=utcnow()))
    if purpose is not None:
        query = query.where(tokens.c.purpose == purpose)
    session.execute(query)


def _store_one_time_token(session: Session, *, user_id: int, purpose: str, token: str, expires_at: datetime,
                          new_email: str | None = None) -> None:
    session.add(OneTimeToken(user_id=user_id, purpose=purpose, token_hash=_hash_token(token), new_email=new_email,
                             expires_at=expires_at))


def issue_one_time_token(session: Session, *, user_id: int, purpose: str, minutes: float,
                         new_email: str | None = None) -> str:
    """A new link for ``purpose``; the user's older unused links of that purpose stop working."""
    _void_tokens(session, user_id=user_id, purpose=purpose)
    token = secrets.token_urlsafe(32)
    _store_one_time_token(session, user_id=user_id, purpose=purpose, token=token, new_email=new_email,
                          expires_at=utcnow() + timedelta(minutes=minutes))
    return token


def peek_one_time_token(session: Session, *, token: str, purpose: str) -> OneTimeToken:
    """The unused, unexpired link row for ``token``, without spending it; else TokenInvalid."""
    row = session.exec(
        select(OneTimeToken).where(OneTimeToken.token_hash == _hash_token(token or ""))
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
        sa.update(tokens).where(tokens.c.token_hash == _hash_token(token or "")).where(tokens.c.purpose == purpose)
        .where(tokens.c.used_at.is_(None)).where(tokens.c.expires_at > now).values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenInvalid()
    row = session.exec(
        select(OneTimeToken).where(OneTimeToken.token_hash == _hash_token(token or ""))
        .where(OneTimeToken.purpose == purpose).execution_options(populate_existing=True)
    ).one()
    return row


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
    _void_tokens(session, user_id=pk(user))
    _revoke_sessions(session, user_id=pk(user))
    audit(session, "user.password_reset", user_id=user.id)
    session.commit()
    return user


def set_locale(session: Session, *, user_id: int, locale: str) -> User:
    """The account's language, for its pages and its mails."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    user.locale = locale if locale in ("en", "nl") else "en"
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def set_plan(session: Session, *, email: str, plan: str) -> User:
    if plan not in ("free", "premium"):
        raise ValidationError(N_("The plan must be free or premium."))
    user = get_user_by_email(session, email)
    if user is None:
        raise NotFound(N_("No account with the email address {email}."), email=email)
    user.plan = plan
    user.updated_at = utcnow()
    session.add(user)
    audit(session, "user.plan_set", user_id=user.id, plan=plan, actor="operator")
    session.commit()
    return user
