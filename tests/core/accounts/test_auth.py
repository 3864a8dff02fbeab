from datetime import timedelta

import pytest
from sqlmodel import select

from core.accounts import access, auth, password_reset, sessions
from core.errors import (
    DuplicateEmail,
    InvalidEmail,
    LoginRefused,
    SessionInvalid,
    TokenInvalid,
    ValidationError,
    WeakPassword,
    WrongCredentials,
)
from core.models import AccessEvent, AuthSession, OutboxMessage, PolicyAcceptance, User, utcnow
from tests.utils.builders import PASSWORD, create_random_user

CLIENT = access.Client(ip="203.0.113.7", user_agent="pytest-browser/1.0")


def test_register_records_policy_acceptance_and_access(session):
    user = auth.register(session, email="  Ada@Example.ORG ", name="Ada", password="lovelace1815",
                         accepted_policy=True, client=CLIENT)
    assert user.email == "ada@example.org"
    assert user.password_hash.startswith("$2b$") and "lovelace" not in user.password_hash
    acc = session.exec(select(PolicyAcceptance).where(PolicyAcceptance.user_id == user.id)).one()
    assert acc.version == "2026-11-25"
    event = session.exec(select(AccessEvent).where(AccessEvent.user_id == user.id)).one()
    assert (event.ip, event.user_agent) == ("203.0.113.7", "pytest-browser/1.0")


@pytest.mark.parametrize(
    ("email", "password", "accepted", "error"),
    [
        ("not-an-email", "lovelace1815", True, InvalidEmail),
        ("a@b", "lovelace1815", True, InvalidEmail),
        ("ada@example.org", "short1", True, WeakPassword),
        ("ada@example.org", "onlyletters", True, WeakPassword),
        ("ada@example.org", "x" * 80 + "1", True, WeakPassword),
        ("ada@example.org", "lovelace1815", False, ValidationError),
    ],
)
def test_register_refuses_bad_input(session, email, password, accepted, error):
    with pytest.raises(error) as info:
        auth.register(session, email=email, name="Ada", password=password, accepted_policy=accepted)
    assert str(info.value)  # a message a person can read
    assert session.exec(select(User)).all() == []


def test_duplicate_email_is_refused_case_insensitively(session):
    create = {"name": "A", "password": "lovelace1815", "accepted_policy": True}
    auth.register(session, email="ada@example.org", **create)
    with pytest.raises(DuplicateEmail, match="already exists"):
        auth.register(session, email="ADA@example.org", **create)


def test_wrong_password_is_refused_and_recorded(session):
    user = create_random_user(session)
    with pytest.raises(WrongCredentials):
        auth.authenticate(session, email=user.email, password="wrong-password-1", client=CLIENT)
    with pytest.raises(WrongCredentials):
        auth.authenticate(session, email="nobody@example.org", password=PASSWORD, client=CLIENT)
    reasons = sorted(e.reason for e in session.exec(select(AccessEvent).where(AccessEvent.kind == "login_failed")))
    assert reasons == ["unknown_email", "wrong_password"]
    assert auth.authenticate(session, email=user.email, password=PASSWORD, client=CLIENT).id == user.id


def test_lockout_starts_after_repeated_failures_and_ends_after_its_time(session):
    user = create_random_user(session)
    for _ in range(4):
        with pytest.raises(WrongCredentials):
            auth.authenticate(session, email=user.email, password="nope-nope-1")
    with pytest.raises(LoginRefused):
        auth.authenticate(session, email=user.email, password="nope-nope-1")
    # Locked: even the right password is refused.
    with pytest.raises(LoginRefused):
        auth.authenticate(session, email=user.email, password=PASSWORD)
    # Time travel: the lock has run out.
    row = session.get(User, user.id)
    row.locked_until = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    assert auth.authenticate(session, email=user.email, password=PASSWORD).id == user.id
    assert session.get(User, user.id).failed_logins == 0


def test_cookie_captured_before_logout_is_refused_after_it(session):
    user = create_random_user(session)
    cookie = sessions.create_session(session, user=user, client=CLIENT)
    assert sessions.resolve_session(session, cookie)[0].id == user.id
    copied = str(cookie)
    sessions.revoke_session(session, cookie)
    with pytest.raises(SessionInvalid):
        sessions.resolve_session(session, copied)


def test_password_change_ends_every_session(session):
    user = create_random_user(session)
    cookies = [sessions.create_session(session, user=user) for _ in range(2)]
    with pytest.raises(WrongCredentials):
        auth.change_password(session, user_id=user.id, old_password="bad-guess-1", new_password="another-pass-2")
    auth.change_password(session, user_id=user.id, old_password=PASSWORD, new_password="another-pass-2")
    for cookie in cookies:
        with pytest.raises(SessionInvalid):
            sessions.resolve_session(session, cookie)
    assert auth.authenticate(session, email=user.email, password="another-pass-2")


def test_tampered_or_foreign_cookie_is_refused(session):
    a, b = create_random_user(session), create_random_user(session)
    cookie = sessions.create_session(session, user=a)
    body, mac = cookie.split(".")
    for bad in ("", "garbage", body + "." + mac[:-2] + "xx", body[:-3] + "abc." + mac):
        with pytest.raises(SessionInvalid):
            sessions.resolve_session(session, bad)
    # An expired session row is refused even with a valid signature.
    row = session.exec(select(AuthSession).where(AuthSession.user_id == a.id)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    with pytest.raises(SessionInvalid):
        sessions.resolve_session(session, cookie)
    assert b.id != a.id


def test_password_reset_by_one_time_link(session):
    user = create_random_user(session)
    old_cookie = sessions.create_session(session, user=user)
    password_reset.request_password_reset(session, email=user.email)
    password_reset.request_password_reset(session, email="unknown@example.org")  # no error, no mail
    mails = session.exec(select(OutboxMessage)).all()
    assert [m.to_address for m in mails] == [user.email]
    token = mails[0].body.split("reset=")[1].split()[0]
    with pytest.raises(WeakPassword):
        password_reset.reset_password(session, token=token, new_password="weak")
    session.rollback()
    password_reset.reset_password(session, token=token, new_password="brand-new-pass-9")
    with pytest.raises(TokenInvalid):
        password_reset.reset_password(session, token=token, new_password="brand-new-pass-10")
    with pytest.raises(SessionInvalid):
        sessions.resolve_session(session, old_cookie)
    assert auth.authenticate(session, email=user.email, password="brand-new-pass-9")
