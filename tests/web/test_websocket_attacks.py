"""Attacks through Streamlit's own websocket, against the real ``streamlit run app.py`` started the plain way.

A browser field cannot type a line break into a one-line input, but the websocket carries any
string a client puts in a ``BackMsg``'s widget state (issue 17 §1). These tests speak that
protocol directly (tests/utils/streamlit_ws.py), as an attacker would.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.conftest import _apply_env
from tests.utils.streamlit_ws import StreamlitClient, text, trigger

INJECTED_SUBJECT = "subject\r\nBcc: x@example.com"


@pytest.fixture
def attacked(web_server, smtp_server, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The plain-started web process; this process on its database and key, with an SMTP sink for delivery."""
    server = web_server()
    _apply_env(monkeypatch, DATABASE_URL=server.env["DATABASE_URL"], DATA_DIR=server.env["DATA_DIR"],
               STORAGE_DIR=server.env["STORAGE_DIR"])
    monkeypatch.delenv("SECRET_KEY", raising=False)
    yield server, smtp_server
    from core.db import reset_engines

    reset_engines()


def _file_ticket(client: StreamlitClient, *, subject: str, body: str):  # type: ignore[no-untyped-def]
    form = client.run(page_name="support")
    ids = {label: form.widget(kind, label).id for kind, label in (
        ("text_input", "Your email address"), ("text_input", "Subject"), ("text_area", "Message"), ("button", "Send"))}
    return client.run(page_name="support", widgets=[
        text(ids["Your email address"], "visitor@example.org"), text(ids["Subject"], subject),
        text(ids["Message"], body), trigger(ids["Send"])])


def test_a_header_injected_through_the_websocket_stops_no_mail(attacked):
    from core.accounts.password_reset import request_password_reset
    from core.db import get_session
    from core.mail import deliver_pending
    from core.models import OutboxMessage, SupportTicket
    from tests.utils.builders import create_random_user

    server, inbox = attacked
    with StreamlitClient(server.url) as client:
        # The same path with an honest subject files a ticket: the widget ids and the submit are right.
        _file_ticket(client, subject="My model is upside down", body="Hello")
        # The attack: the subject widget's value rewritten in the BackMsg.
        refused = _file_ticket(client, subject=INJECTED_SUBJECT, body="Hello")
    errors = refused.texts("alert")
    assert any("single line" in e for e in errors), errors
    with get_session() as session:
        subjects = [t.subject for t in session.exec(select(SupportTicket)).all()]
        assert subjects == ["My model is upside down"]
        assert not any("\r" in m.subject or "\n" in m.subject for m in session.exec(select(OutboxMessage)).all())
        user = create_random_user(session)
        request_password_reset(session, email=user.email)
        session.commit()
        result = deliver_pending(session)
    assert result["sent"] == 2 and result["failed"] == 0
    got = {e.rcpt_tos[0]: e.content.decode() for e in inbox}
    assert set(got) == {"support@vorm.local", user.email}
    assert "?reset=" in got[user.email]
    assert not any("x@example.com" in e.rcpt_tos or b"Bcc:" in e.content for e in inbox)
    log = server.log.read_text()
    assert "Traceback" not in log
    # The web process has no SMTP_HOST: the honest ticket's mail to support shows in its log, escaped, once.
    assert log.count("Mail not sent (no SMTP_HOST set; it waits in the outbox): to=support@vorm.local") == 1
    assert "My model is upside down" in log and "x@example.com" not in log
