"""Audited admin actions: each needs a reason and leaves an audit row with the admin, target and reason;
the rows are in the concerned user's own export and the audit log filters find them. Both databases."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.admin import actions, auditlog
from core.models import AuditLog, GenerationJob, JobStatus, OneTimeToken, OutboxMessage, Role, User
from core.privacy import correction, exports
from tests.core.privacy.conftest import add_model, add_upload
from tests.utils.builders import PASSWORD, create_random_user


@pytest.fixture
def admin(session) -> User:
    return create_random_user(session, role=Role.ADMIN)


def _audit(session, action: str) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_requeue_needs_a_reason_and_is_audited(session, admin):
    user = create_random_user(session)
    job = GenerationJob(user_id=user.id, status=JobStatus.FAILED, error_code="no_foreground", attempts=3)
    session.add(job)
    session.commit()
    with pytest.raises(actions.ReasonRequired):
        actions.requeue_job(session, admin=admin, job_id=job.id, reason="  ")
    session.expire_all()
    assert session.get(GenerationJob, job.id).status == JobStatus.FAILED and _audit(session, "job.requeued") == []
    actions.requeue_job(session, admin=admin, job_id=job.id, reason="engine fix deployed")
    session.expire_all()
    assert session.get(GenerationJob, job.id).status == JobStatus.QUEUED
    row = _audit(session, "job.requeued")[0]
    assert (row.user_id, row.actor, row.details["admin_id"], row.details["job_id"], row.details["reason"]) == (
        user.id, f"admin:{admin.id}", admin.id, job.id, "engine fix deployed")


def test_plan_and_role_changes_are_audited_and_the_last_admin_stays(session, admin):
    user = create_random_user(session)
    actions.set_plan(session, admin=admin, user_id=user.id, plan="premium", reason="goodwill after outage")
    actions.set_role(session, admin=admin, user_id=user.id, role="admin", reason="new colleague")
    session.expire_all()
    assert (session.get(User, user.id).plan, session.get(User, user.id).role) == ("premium", "admin")
    plan, role = _audit(session, "admin.plan_changed")[0], _audit(session, "admin.role_changed")[0]
    assert plan.details == {"admin_id": admin.id, "target": f"user:{user.id}", "before": "free", "after": "premium",
                            "reason": "goodwill after outage"}
    assert (role.actor, role.user_id, role.details["after"]) == (f"admin:{admin.id}", user.id, "admin")
    actions.set_role(session, admin=admin, user_id=user.id, role="user", reason="left the team")
    with pytest.raises(actions.LastAdmin):
        actions.set_role(session, admin=admin, user_id=admin.id, role="user", reason="oops")
    with pytest.raises(actions.ReasonRequired):
        actions.set_plan(session, admin=admin, user_id=user.id, plan="free", reason="")


def test_resend_sends_a_fresh_confirmation_link_and_only_that_one_works(session, admin):
    user = create_random_user(session)
    with pytest.raises(actions.NoPendingConfirmation):
        actions.resend_email_confirmation(session, admin=admin, user_id=user.id, reason="user asked")
    correction.request_email_change(session, user=user, new_email="new-home@example.org", password=PASSWORD)
    assert actions.resend_email_confirmation(session, admin=admin, user_id=user.id,
                                             reason="first mail lost") == "new-home@example.org"
    mails = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "email_change")
                         .order_by(OutboxMessage.id)).all()
    assert [m.to_address for m in mails] == ["new-home@example.org"] * 2
    tokens = session.exec(select(OneTimeToken).where(OneTimeToken.purpose == "email_change")
                          .order_by(OneTimeToken.id)).all()
    assert [t.used_at is None for t in tokens] == [False, True]
    token = mails[1].body.split("confirm_email=")[1].split()[0]
    correction.confirm_email_change(session, token=token)
    session.expire_all()
    assert session.get(User, user.id).email == "new-home@example.org"
    assert _audit(session, "admin.confirmation_resent")[0].details["reason"] == "first mail lost"


def test_summary_shows_counts_not_content_and_opening_content_is_audited(session, admin):
    user, other = create_random_user(session), create_random_user(session)
    model = add_model(session, user, name="secret vase")
    add_upload(session, user, name="holiday.png")
    summary = actions.account_summary(session, user_id=user.id)
    assert summary.counts == {"uploads": 1, "models": 1, "tickets": 0, "privacy_requests": 0}
    assert summary.storage_bytes == 4 and summary.plan == "free"
    assert "secret vase" not in repr(summary) and "holiday" not in repr(summary)
    assert _audit(session, "admin.content_opened") == []
    with pytest.raises(actions.ReasonRequired):
        actions.open_content(session, admin=admin, user_id=user.id, kind="model", item_id=model.id, reason="")
    with pytest.raises(actions.NotFound):  # the id belongs to someone else
        actions.open_content(session, admin=admin, user_id=other.id, kind="model", item_id=model.id, reason="x")
    opened = actions.open_content(session, admin=admin, user_id=user.id, kind="model", item_id=model.id,
                                  reason="ticket #4: broken mesh")
    assert opened.name == "secret vase" and "/files/" in opened.url
    row = _audit(session, "admin.content_opened")[0]
    assert (row.user_id, row.details["target"], row.details["reason"]) == (user.id, f"model:{model.id}",
                                                                           "ticket #4: broken mesh")


def test_the_users_export_holds_the_admin_actions_about_them_and_the_log_filters(session, admin):
    user, bystander = create_random_user(session), create_random_user(session)
    actions.set_plan(session, admin=admin, user_id=user.id, plan="premium", reason="refund dispute")
    actions.set_plan(session, admin=admin, user_id=bystander.id, plan="premium", reason="other")
    tables = {table.name: rows for table, rows in exports.user_rows(session, user.id)}
    mine = [r for r in tables["audit_log"] if r["action"] == "admin.plan_changed"]
    assert [r["details"]["reason"] for r in mine] == ["refund dispute"]

    assert "admin.plan_changed" in auditlog.actions(session)
    assert len(auditlog.search(session, actor="admin:", action="admin.plan_changed")) == 2
    assert [r.user_id for r in auditlog.search(session, action="admin.plan_changed", user_id=user.id)] == [user.id]
    assert [r.user_id for r in auditlog.search(session, target=f"user:{bystander.id}")] == [bystander.id]
    assert auditlog.search(session, actor="operator", action="admin.plan_changed") == []


def test_a_demoted_admins_open_page_cannot_act(session, admin):
    """Issue 17 §4: the role is checked when the action runs, not only when the page was drawn. The page
    holds the ``User`` it loaded; another admin demotes it; every action from that object is refused."""
    from core.accounts.roles import NotAnAdmin
    from core.support import inbox, requests, tickets

    stale = admin  # what the open page holds
    other = create_random_user(session, role=Role.ADMIN)
    user = create_random_user(session)
    job = GenerationJob(user_id=user.id, status=JobStatus.FAILED, error_code="no_foreground", attempts=3)
    session.add(job)
    model = add_model(session, user)
    session.commit()
    ticket = tickets.create_ticket(session, user=user, email=user.email, subject="Help", body="Please")
    privacy = tickets.create_ticket(session, user=user, email=user.email, subject="My data", body="All of it",
                                    topic="privacy", privacy_kind="access")
    correction.request_email_change(session, user=user, new_email="moved@example.org", password=PASSWORD)
    actions.set_role(session, admin=other, user_id=int(stale.id), role=Role.USER, reason="left the team")
    audits_before = len(session.exec(select(AuditLog)).all())
    attempts = {
        "requeue": lambda: actions.requeue_job(session, admin=stale, job_id=job.id, reason="r"),
        "set plan": lambda: actions.set_plan(session, admin=stale, user_id=user.id, plan="premium", reason="r"),
        "set role": lambda: actions.set_role(session, admin=stale, user_id=int(stale.id), role=Role.ADMIN,
                                             reason="r"),
        "resend": lambda: actions.resend_email_confirmation(session, admin=stale, user_id=user.id, reason="r"),
        "open content": lambda: actions.open_content(session, admin=stale, user_id=user.id, kind="model",
                                                     item_id=model.id, reason="r"),
        "reply": lambda: inbox.reply(session, ticket_id=ticket.id, body="Hi", admin=stale),
        "close": lambda: inbox.close(session, ticket_id=ticket.id, admin=stale),
        "resolve": lambda: requests.resolve(session, request_id=privacy.privacy_request_id, note="done",
                                            admin=stale),
    }
    for what, act in attempts.items():
        with pytest.raises(NotAnAdmin):
            act()
        session.expire_all()
        assert len(session.exec(select(AuditLog)).all()) == audits_before, what
    assert session.get(User, stale.id).role == Role.USER and session.get(User, user.id).plan == "free"
    assert session.get(GenerationJob, job.id).status == JobStatus.FAILED
    assert NotAnAdmin().render("nl") != NotAnAdmin().render("en")
    # The admin who is one still can.
    actions.set_plan(session, admin=other, user_id=user.id, plan="premium", reason="goodwill")
    assert session.get(User, user.id).plan == "premium"


@pytest.mark.parametrize("query", ["²", "¹²³", "99999999999999999999", "٣"])
def test_a_user_search_with_digits_no_id_can_hold_finds_nobody_instead_of_raising(session, admin, query):
    # str.isdigit() takes other scripts' digits ("²") that int() refuses, and ids past bigint's range.
    create_random_user(session)
    assert actions.find_users(session, query=query) == []
    assert [u.id for u in actions.find_users(session, query=str(admin.id))] == [admin.id]
