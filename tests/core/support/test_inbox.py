"""The support inbox: a ticket reaches an admin, the reply reaches the user by mail and in the thread,
the user's answer reaches support; the operator CLI does the same. Both databases."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.manage import main
from core.models import AuditLog, OutboxMessage, PrivacyRequest, Role, SupportMessage, SupportTicket
from core.privacy import erasure, exports
from core.support import inbox, tickets
from tests.utils.builders import create_random_user

SUPPORT = "support@vorm.local"  # the SUPPORT_EMAIL default


def _mails(session, kind: str) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def test_ticket_reply_answer_and_close_round_trip(session):
    user = create_random_user(session)
    user.locale = "nl"
    session.add(user)
    session.commit()
    admin = create_random_user(session, role=Role.ADMIN)
    ticket = tickets.create_ticket(session, user=user, email="", subject="Scheve vaas", body="Mijn vaas is scheef")
    # The new ticket is announced to the operator address and waits in the inbox.
    assert [m.to_address for m in _mails(session, "support_ticket")] == [SUPPORT]
    assert [t.id for t in inbox.list_tickets(session, status="open")] == [ticket.id]

    inbox.reply(session, ticket_id=ticket.id, body="Probeer de carve-modus.", admin=admin)
    session.refresh(ticket)
    assert ticket.status == "answered" and inbox.list_tickets(session, status="open") == []
    mail = _mails(session, "support_reply")[0]
    assert mail.to_address == user.email and mail.user_id == user.id
    assert "Probeer de carve-modus." in mail.body and "Support heeft je ticket" in mail.body  # Dutch, the user's
    assert "/support" in mail.body

    thread = inbox.get_thread(session, ticket_id=ticket.id, user=user)
    assert [(m.author, m.admin_id) for m in thread.messages] == [("support", admin.id)]

    inbox.answer(session, ticket_id=ticket.id, user=user, body="Dat werkte, dank je!")
    session.refresh(ticket)
    assert ticket.status == "open"
    notice = _mails(session, "support_ticket")[-1]
    assert notice.to_address == SUPPORT and "Dat werkte" in notice.body
    assert [m.author for m in inbox.get_thread(session, ticket_id=ticket.id).messages] == ["support", "user"]

    inbox.close(session, ticket_id=ticket.id, admin=admin)
    with pytest.raises(inbox.TicketClosed):
        inbox.answer(session, ticket_id=ticket.id, user=user, body="nog iets")
    actions = [(a.action, a.actor) for a in session.exec(
        select(AuditLog).where(AuditLog.action.startswith("support.")).order_by(AuditLog.id))]
    assert actions == [("support.ticket_created", f"user:{user.id}"), ("support.replied", f"admin:{admin.id}"),
                       ("support.answered", f"user:{user.id}"), ("support.closed", f"admin:{admin.id}")]


def test_a_user_cannot_read_or_answer_someone_elses_ticket(session):
    owner, other = create_random_user(session), create_random_user(session)
    ticket = tickets.create_ticket(session, user=owner, email="", subject="Mine", body="private")
    with pytest.raises(inbox.TicketNotFound):
        inbox.get_thread(session, ticket_id=ticket.id, user=other)
    with pytest.raises(inbox.TicketNotFound):
        inbox.answer(session, ticket_id=ticket.id, user=other, body="hi")
    with pytest.raises(tickets.MessageIncomplete):
        inbox.reply(session, ticket_id=ticket.id, body="   ")
    assert session.exec(select(SupportMessage)).all() == []


def test_privacy_requests_notify_the_operator_address(session):
    user = create_random_user(session)
    req = tickets.create_privacy_request(session, user=user, kind="objection", details="stop profiling")
    session.commit()
    notice = _mails(session, "privacy_notice")[0]
    assert notice.to_address == SUPPORT and f"#{req.id}" in notice.subject and "stop profiling" in notice.body
    assert f"{req.due_at:%Y-%m-%d}" in notice.body
    # A privacy ticket sends one mail (the ticket's), not two; a self-service export says it needs nobody.
    tickets.create_ticket(session, user=user, email="", subject="Wis", body="alles", topic="privacy",
                          privacy_kind="deletion")
    assert len(_mails(session, "privacy_notice")) == 1
    exports.request_export(session, user=user)
    assert "handled automatically" in _mails(session, "privacy_notice")[-1].subject
    assert session.exec(select(PrivacyRequest)).all()


def test_erasure_takes_threads_with_it_also_of_anonymous_tickets(session):
    user = create_random_user(session)
    admin = create_random_user(session, role=Role.ADMIN)
    own = tickets.create_ticket(session, user=user, email="", subject="a", body="b")
    # The same person wrote before they had an account: a ticket by email only, answered by support.
    anonymous = tickets.create_ticket(session, user=None, email=user.email, subject="c", body="d")
    inbox.reply(session, ticket_id=own.id, body="yes", admin=admin)
    inbox.reply(session, ticket_id=anonymous.id, body="yes", admin=admin)
    result = erasure.erase_user(user.id)
    assert result.status == "erased"
    session.expire_all()
    assert session.exec(select(SupportTicket)).all() == []
    assert session.exec(select(SupportMessage)).all() == []


def test_cli_lists_shows_replies_and_closes(session, capsys):
    user = create_random_user(session)
    ticket = tickets.create_ticket(session, user=user, email="", subject="CLI help", body="hello from the user")
    capsys.readouterr()
    assert main(["tickets", "--status", "open"]) == 0
    assert f"#{ticket.id}" in capsys.readouterr().out
    assert main(["ticket", str(ticket.id), "--reply", "Answer from the terminal", "--close"]) == 0
    out = capsys.readouterr().out
    assert "hello from the user" in out and "Answer from the terminal" in out and "[closed]" in out
    session.expire_all()
    assert _mails(session, "support_reply")[0].to_address == user.email
    assert session.exec(select(AuditLog).where(AuditLog.action == "support.replied")).one().actor == "operator"
    assert main(["tickets", "--status", "open"]) == 0
    assert "No tickets." in capsys.readouterr().out
    assert main(["ticket", "999999", "--reply", "x"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
