"""Correction (policy clause 6): the name directly, the email through a link mailed to the new address."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.accounts.auth import normalise_email, verify_password
from core.accounts.links import consume_one_time_token, issue_one_time_token
from core.audit import audit, user_actor
from core.config import get_settings, public_url
from core.errors import DuplicateEmail, NotFound, ValidationError
from core.i18n import N_, translate
from core.mail import enqueue_mail
from core.models import (
    User,
    utcnow,
)
from core.privacy.erasure import ERASED_PASSWORD_HASH, PasswordRequired
from core.text import single_line

EMAIL_CHANGE_TOKEN_MINUTES = 24 * 60


MAX_NAME_CHARS = 100  # the display name (the column allows 120: older accounts may have longer ones)


class SameEmail(ValidationError):
    """That is already your email address."""

    code = "same_email"




# --- correction ---------------------------------------------------------------------


class NameEmpty(ValidationError):
    """Please enter a display name."""

    code = "name_empty"


class NameTooLong(ValidationError):
    """The display name is too long: use at most {limit} characters."""

    code = "name_too_long"


def change_name(session: Session, *, user: User, name: str) -> User:
    """The display name: not empty, at most ``MAX_NAME_CHARS`` characters (spaces around it are dropped)."""
    name = " ".join(single_line(name).split())
    if not name:
        raise NameEmpty()
    if len(name) > MAX_NAME_CHARS:
        raise NameTooLong(limit=MAX_NAME_CHARS)
    user = session.merge(user)
    user.name, user.updated_at = name, utcnow()
    session.add(user)
    audit(session, "user.name_changed", user_id=user.id, actor=user_actor(user.id))
    session.commit()
    return user


def request_email_change(session: Session, *, user: User, new_email: str, password: str) -> str:
    """Mail a confirmation link to the new address; the email changes only when it is opened.

    The current password is asked for, so that a borrowed session cannot move the account elsewhere.
    Returns the normalised new address.
    """
    user = session.merge(user)
    new_email = normalise_email(new_email)
    if not verify_password(password or "", user.password_hash):
        raise PasswordRequired()
    if new_email == user.email:
        raise SameEmail()
    if session.exec(select(User.id).where(User.email == new_email)).first() is not None:
        raise DuplicateEmail()
    send_email_change_link(session, user=user, new_email=new_email)
    audit(session, "user.email_change_requested", user_id=user.id, actor=user_actor(user.id))
    session.commit()
    return new_email


def send_email_change_link(session: Session, *, user: User, new_email: str) -> None:
    """Issue a confirmation link for ``new_email`` and mail it there, in the user's language (no commit)."""
    token = issue_one_time_token(session, user_id=int(user.id or 0), purpose="email_change",
                                 minutes=EMAIL_CHANGE_TOKEN_MINUTES, new_email=new_email)
    link = f"{public_url()}/?confirm_email={token}"
    enqueue_mail(session, to=new_email, user_id=user.id, kind="email_change",
                 subject=translate("Confirm your new email address for Vorm", user.locale),
                 body=translate("Hello {name},\n\nPlease confirm that this is your new email address for Vorm by "
                                "opening this link within {hours} hours:\n\n{link}\n\nIf you did not ask for this, "
                                "ignore this email; nothing changes.\n\nVorm",
                                user.locale, name=user.name or user.email, link=link,
                                hours=EMAIL_CHANGE_TOKEN_MINUTES // 60))


def confirm_email_change(session: Session, *, token: str) -> User:
    """Open the link from the confirmation mail: the account's email becomes the new address."""
    row = consume_one_time_token(session, token=token, purpose="email_change")
    user = session.get(User, row.user_id)
    if user is None or not row.new_email or user.password_hash == ERASED_PASSWORD_HASH:
        session.rollback()
        raise NotFound(N_("This account no longer exists."))
    if session.exec(select(User.id).where(User.email == row.new_email)).first() is not None:
        session.rollback()
        raise DuplicateEmail()
    old = user.email
    user.email, user.updated_at = row.new_email, utcnow()
    session.add(user)
    # Tell the old address, so an unexpected change does not go unnoticed.
    enqueue_mail(session, to=old, user_id=user.id, kind="email_changed",
                 subject=translate("Your Vorm email address was changed", user.locale),
                 body=translate("Hello {name},\n\nThe email address of your Vorm account was changed to {new}. If "
                                "that was not you, contact us at once at {support}.\n\nVorm",
                                user.locale, name=user.name or old, new=user.email,
                        support=get_settings().support_email))
    audit(session, "user.email_changed", user_id=user.id, actor=user_actor(user.id))
    try:
        session.commit()
    except IntegrityError:
        # Another account confirmed the same address at the same moment (both passed the check
        # above): the unique index lets one win; this one gets the same answer as a later try would.
        session.rollback()
        raise DuplicateEmail() from None
    return user
