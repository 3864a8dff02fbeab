"""Correction (name, email by confirmation link), policy versions and banner, support and privacy requests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from core.errors import DuplicateEmail, TokenInvalid, ValidationError
from core.manage import main
from core.models import OutboxMessage, PolicyAcceptance, PolicyVersion, PrivacyRequest, SupportTicket, User
from core.privacy import announce, correction, erasure, policy
from core.support import tickets as support
from tests.utils.builders import PASSWORD, create_random_user


@pytest.mark.parametrize(("name", "error", "message"), [
    ("", correction.NameEmpty, "Please enter a display name."),
    ("   \t ", correction.NameEmpty, "Please enter a display name."),
    ("x" * 101, correction.NameTooLong, "The display name is too long: use at most 100 characters."),
])
def test_the_display_name_is_not_empty_and_at_most_100_characters(session, name, error, message):
    user = create_random_user(session)
    with pytest.raises(error) as info:
        correction.change_name(session, user=user, name=name)
    assert str(info.value) == message and info.value.render("nl") != message
    session.expire_all()
    assert session.get(User, user.id).name == "Test User"  # unchanged
    correction.change_name(session, user=user, name="y" * 100)
    assert session.get(User, user.id).name == "y" * 100


def test_change_name_and_email_with_a_confirmation_link(session):
    user = create_random_user(session)
    other = create_random_user(session)
    correction.change_name(session, user=user, name="  Ada Lovelace ")
    assert session.get(User, user.id).name == "Ada Lovelace"
    with pytest.raises(ValidationError):
        correction.change_name(session, user=user, name="x" * 121)

    with pytest.raises(erasure.PasswordRequired):
        correction.request_email_change(session, user=user, new_email="ada@new.example", password="wrong-pass-1")
    with pytest.raises(DuplicateEmail):
        correction.request_email_change(session, user=user, new_email=other.email, password=PASSWORD)
    assert correction.request_email_change(session, user=user, new_email="Ada@New.example",
                                        password=PASSWORD) == "ada@new.example"
    assert session.get(User, user.id).email != "ada@new.example"  # not before the link is opened
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "email_change")).one()
    assert mail.to_address == "ada@new.example"
    token = re.search(r"\?confirm_email=([\w-]+)", mail.body).group(1)

    old_email = user.email
    changed = correction.confirm_email_change(session, token=token)
    assert changed.email == "ada@new.example"
    notice = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "email_changed")).one()
    assert notice.to_address == old_email and "ada@new.example" in notice.body
    with pytest.raises(TokenInvalid):
        correction.confirm_email_change(session, token=token)  # once only


def test_policy_publish_banner_and_acknowledgement(session, monkeypatch):
    current = policy.current()
    user = create_random_user(session)  # accepted the current version at registration
    legacy = create_random_user(session)
    legacy.policy_acknowledged_version = None  # an account from before the policy existed
    legacy.created_at = datetime(2025, 1, 1, tzinfo=UTC)
    session.add(legacy)
    session.commit()
    assert announce.needs_policy_banner(session, user=user) is None
    assert announce.needs_policy_banner(session, user=legacy) == current

    assert main(["publish-policy"]) == 0
    assert [v.version for v in session.exec(select(PolicyVersion))] == [v.version for v in policy.all_versions()]
    assert [m.to_address for m in session.exec(select(OutboxMessage))] == [legacy.email]
    assert main(["publish-policy"]) == 0  # published once, announced once
    assert len(session.exec(select(OutboxMessage)).all()) == 1

    # A new material version: everyone sees the banner and gets a notice, until they acknowledge.
    newer = policy.PolicyDoc(version="2099-01-01", last_updated="2099-01-01", material=True, files=current.files)
    monkeypatch.setattr(policy, "all_versions", lambda: (current, newer))
    assert announce.needs_policy_banner(session, user=user) == newer
    published = announce.publish_policies(session)
    assert published == [{"version": "2099-01-01", "material": True, "notices": 2}]
    notices = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "policy_notice")).all()
    assert sorted(m.to_address for m in notices) == sorted([user.email, legacy.email, legacy.email])
    announce.acknowledge_policy(session, user=user)
    assert announce.needs_policy_banner(session, user=session.get(User, user.id)) is None
    assert "2099-01-01" in [a.version for a in session.exec(
        select(PolicyAcceptance).where(PolicyAcceptance.user_id == user.id))]

    # A minor version afterwards brings no banner back.
    minor = policy.PolicyDoc(version="2099-06-01", last_updated="2099-06-01", material=False, files=current.files)
    monkeypatch.setattr(policy, "all_versions", lambda: (current, newer, minor))
    assert announce.needs_policy_banner(session, user=session.get(User, user.id)) is None
    assert announce.publish_policies(session) == [{"version": "2099-06-01", "material": False, "notices": 0}]


def test_support_ticket_and_privacy_request_with_a_one_month_deadline(session):
    user = create_random_user(session)
    ticket = support.create_ticket(session, user=None, email="Visitor@Example.org", subject="Hello",
                                   body="Can I print in colour?")
    assert ticket.email == "visitor@example.org" and ticket.privacy_request_id is None
    with pytest.raises(support.PrivacyRequestNeedsLogin):
        support.create_ticket(session, user=None, email="v@example.org", subject="x", body="y", topic="privacy")
    with pytest.raises(ValidationError):
        support.create_ticket(session, user=user, email="", subject="", body="y")

    ticket = support.create_ticket(session, user=user, email="", subject="Stop", body="No marketing please",
                                   topic="privacy", privacy_kind="objection")
    req = session.get(PrivacyRequest, ticket.privacy_request_id)
    assert (req.kind, req.status, req.user_id) == ("objection", "open", user.id)
    assert req.due_at == support.add_month(req.created_at)
    assert session.get(SupportTicket, ticket.id).subject.startswith("[privacy:objection]")
    assert session.exec(select(OutboxMessage).where(OutboxMessage.kind == "support_ticket")).all()
    assert [r.id for r in support.open_privacy_requests(session)] == [req.id]


@pytest.mark.parametrize(("start", "due"), [
    ("2025-01-31", "2025-02-28"), ("2024-01-31", "2024-02-29"), ("2025-12-15", "2026-01-15"),
    ("2025-05-02", "2025-06-02"),
])
def test_add_month(start, due):
    moment = datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert support.add_month(moment).date().isoformat() == due


def test_operator_created_account_sees_no_banner_until_a_later_material_change(session, monkeypatch, tmp_path):
    import shutil

    from core.manage import main
    from core.privacy import announce, policy

    assert main(["create-user", "--email", "op-made@example.org", "--password", "operator-made-1"]) == 0
    from core.accounts.auth import get_user_by_email

    user = get_user_by_email(session, "op-made@example.org")
    assert user.policy_acknowledged_version is None
    assert announce.needs_policy_banner(session, user=user) is None

    shutil.copytree(policy.DEFAULT_POLICY_DIR, tmp_path / "policies")
    with open(tmp_path / "policies" / "versions.toml", "a") as fh:
        fh.write('\n[[version]]\nversion = "2999-01-01"\nlast_updated = "2999-01-01"\nmaterial = true\n'
                 'files = { nl = "2025-05-02.nl.txt", en = "2025-05-02.en.txt" }\n')
    monkeypatch.setenv("POLICY_DIR", str(tmp_path / "policies"))
    assert announce.needs_policy_banner(session, user=user).version == "2999-01-01"
