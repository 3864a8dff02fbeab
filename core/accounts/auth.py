"""Accounts: users, passwords, login with lockout, and the profile settings a user changes.

No Streamlit here: the web process wraps these in widgets, the CLI and tests call them directly.
Sessions live in ``core.accounts.sessions``, one-time links in ``core.accounts.links``, the
password reset in ``core.accounts.password_reset`` and the access log in ``core.accounts.access``.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import bcrypt
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.accounts.access import NO_CLIENT, Client, record_access
from core.accounts.links import void_tokens
from core.accounts.sessions import revoke_sessions, session_id
from core.audit import audit, user_actor
from core.config import get_settings
from core.errors import (
    DuplicateEmail,
    InvalidEmail,
    LoginRefused,
    NotFound,
    ValidationError,
    WeakPassword,
    WrongCredentials,
)
from core.i18n import N_
from core.models import PolicyAcceptance, Role, User, pk, utcnow
from core.privacy import policy
from core.text import has_control, single_line

log = logging.getLogger(__name__)

BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores anything past 72 bytes; refuse rather than truncate silently

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
# A real hash to check against when the account does not exist, so both cases take as long.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(BCRYPT_ROUNDS))


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254 or not _EMAIL_RE.match(email) or has_control(email):
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
    self_service: bool = False,
) -> User:
    """Create an account. ``accepted_policy`` records which policy version the person accepted;
    ``self_service``: the person registered themselves (the audit log names them as its actor)."""
    email = normalise_email(email)
    check_password_strength(password, email=email)
    name = single_line(name)
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
    audit(session, "user.created", user_id=user.id, role=role, plan=plan,
          **({"actor": user_actor(user.id)} if self_service else {}))
    return user


def register(session: Session, *, email: str, name: str, password: str, accepted_policy: bool,
             locale: str = "en", client: Client = NO_CLIENT) -> User:
    """Self-service registration: the current privacy policy must be accepted."""
    if not accepted_policy:
        raise ValidationError(N_("Please accept the privacy policy to create an account."))
    user = create_user(session, email=email, password=password, name=name, locale=locale,
                       accepted_policy=policy.current().version, self_service=True)
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
    keep_sid = session_id(keep_token) if keep_token else None
    # One transaction: the new password, no old link and no other session exist only together.
    void_tokens(session, user_id=pk(user))
    revoke_sessions(session, user_id=pk(user), except_sid=keep_sid)
    audit(session, "user.password_changed", user_id=user.id, actor=user_actor(user.id))
    record_access(session, kind="password_changed", client=NO_CLIENT, user_id=user.id)
    session.commit()



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
