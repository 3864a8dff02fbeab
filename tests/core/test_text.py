"""Control characters in what people type are checked at the core boundary (issue 17 §1)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.accounts import auth
from core.content import library
from core.errors import InvalidEmail, ValidationError
from core.models import OutboxMessage, SupportTicket
from core.privacy import correction
from core.support import inbox, tickets
from core.text import ControlCharacters, NotOneLine, escape, multi_line, single_line
from tests.core.privacy.conftest import add_model
from tests.utils.builders import create_random_user

INJECTIONS = ["subject\r\nBcc: x@example.com", "subject\nBcc: x@example.com", "a\rb", "bell\x07", "esc\x1b[2J",
              "nul\x00", "del\x7f", "c1\x85next", "line\u2028sep"]


def test_single_and_multi_line_rules():
    assert single_line("  a\tb  ") == "a b"  # a tab pasted from a table meant a space
    for bad in INJECTIONS:
        with pytest.raises(NotOneLine):
            single_line(bad)
    assert multi_line("Hello,\r\n\r\nline\rtwo\u2028three\tx\n") == "Hello,\n\nline\ntwo\nthree\tx"
    for bad in ("esc\x1b[2J", "nul\x00", "bell\x07", "del\x7f", "c1\x9b31m"):
        with pytest.raises(ControlCharacters):
            multi_line(bad)
    assert escape("a\r\nBcc: b\x1b[2J\\") == "a\\r\\nBcc: b\\x1b[2J\\\\"


def test_the_messages_speak_both_languages():
    from core.support.tickets import MAX_SUBJECT_CHARS  # noqa: F401  (the module marks its messages)

    with pytest.raises(NotOneLine) as one:
        single_line("a\nb")
    with pytest.raises(ControlCharacters) as ctl:
        multi_line("a\x1bb")
    for exc in (one.value, ctl.value):
        assert exc.render("nl") != exc.render("en") and exc.render("nl")


def test_a_ticket_subject_must_be_one_line_and_its_body_is_normalised(session):
    for subject in INJECTIONS:
        with pytest.raises(ValidationError) as refused:
            tickets.create_ticket(session, user=None, email="visitor@example.org", subject=subject, body="Hi")
        assert "single line" in str(refused.value)
        assert "enkele regel" in refused.value.render("nl")
    with pytest.raises(ControlCharacters):
        tickets.create_ticket(session, user=None, email="visitor@example.org", subject="Help", body="a\x1b[2Jb")
    with pytest.raises(InvalidEmail):
        tickets.create_ticket(session, user=None, email="visitor\x1b@example.org", subject="Help", body="Hi")
    ticket = tickets.create_ticket(session, user=None, email="visitor@example.org", subject="\tHelp\twith  it ",
                                   body="Line one\r\nLine two\rthree")
    assert ticket.subject == "Help with  it" and ticket.body == "Line one\nLine two\nthree"
    assert session.exec(select(SupportTicket)).one().id == ticket.id
    assert all("\r" not in m.subject and "\n" not in m.subject for m in session.exec(select(OutboxMessage)).all())
    with pytest.raises(ControlCharacters):
        inbox.reply(session, ticket_id=int(ticket.id or 0), body="ok\x1b]8;;http://evil\x07")


def test_names_model_names_and_emails_refuse_control_characters(session):
    user = create_random_user(session)
    for bad in ("Ada\r\nBcc: x", "Ada\x1b[31m", "Ada\x00"):
        with pytest.raises(NotOneLine):
            correction.change_name(session, user=user, name=bad)
        with pytest.raises(NotOneLine):
            auth.create_user(session, email="new@example.org", password="long-enough-1", name=bad)
    assert correction.change_name(session, user=user, name=" Ada\tLovelace ").name == "Ada Lovelace"
    model = add_model(session, user)
    session.commit()
    with pytest.raises(NotOneLine):
        library.rename_model(session, user_id=int(user.id or 0), model_id=int(model.id or 0), name="vase\nBcc: x")
    for bad in ("a\x1b@example.org", "a\x00b@example.org", "a\x7f@example.org", "a\x85@example.org"):
        with pytest.raises(InvalidEmail):
            auth.normalise_email(bad)
        with pytest.raises(InvalidEmail):
            correction.request_email_change(session, user=user, new_email=bad, password="x")
