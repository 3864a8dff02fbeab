"""Privacy requests for admins: overdue first with their due dates, resolved with a note the user gets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from core.models import AuditLog, OutboxMessage, PrivacyRequest, Role, utcnow
from core.support import requests, tickets
from tests.utils.builders import create_random_user


def test_waiting_requests_come_first_by_deadline_and_overdue_ones_are_marked(session):
    user = create_random_user(session)
    now = utcnow()
    late = tickets.create_privacy_request(session, user=user, kind="objection", now=now - timedelta(days=40))
    soon = tickets.create_privacy_request(session, user=user, kind="correction", now=now - timedelta(days=20))
    fresh = tickets.create_privacy_request(session, user=user, kind="other", now=now)
    done = tickets.create_privacy_request(session, user=user, kind="access", status="done", now=now)
    session.commit()
    rows = requests.list_requests(session, now=now)
    assert [r.request.id for r in rows] == [late.id, soon.id, fresh.id, done.id]
    assert [r.overdue for r in rows] == [True, False, False, False]
    assert rows[0].email == user.email
    assert rows[0].request.due_at < now < rows[1].request.due_at
    assert [r.request.id for r in requests.list_requests(session, include_resolved=False)] == [late.id, soon.id,
                                                                                                 fresh.id]


def test_resolving_needs_a_note_tells_the_user_and_is_audited(session):
    user = create_random_user(session)
    admin = create_random_user(session, role=Role.ADMIN)
    req = tickets.create_privacy_request(session, user=user, kind="objection", details="no newsletters")
    session.commit()
    with pytest.raises(requests.NoteRequired):
        requests.resolve(session, request_id=req.id, note="  ", admin=admin)
    requests.resolve(session, request_id=req.id, note="We never send newsletters; nothing to stop.", admin=admin,
                     outcome="declined")
    session.expire_all()
    req = session.get(PrivacyRequest, req.id)
    assert (req.status, req.resolution_note) == ("declined", "We never send newsletters; nothing to stop.")
    assert req.resolved_at is not None
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "privacy_resolved")).one()
    assert mail.to_address == user.email and "nothing to stop" in mail.body
    row = session.exec(select(AuditLog).where(AuditLog.action == "privacy.request_resolved")).one()
    assert (row.user_id, row.actor, row.details["outcome"]) == (user.id, f"admin:{admin.id}", "declined")
    with pytest.raises(requests.RequestNotOpen):
        requests.resolve(session, request_id=req.id, note="again", admin=admin)
    export = tickets.create_privacy_request(session, user=user, kind="access", status="pending")
    session.commit()
    with pytest.raises(requests.RequestNotOpen):  # self-service exports finish on their own
        requests.resolve(session, request_id=export.id, note="x", admin=admin)
