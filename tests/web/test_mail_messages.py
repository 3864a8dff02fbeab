"""Mail on a default install (issue 17 §6): no page says "we sent" when nothing was sent, and the admin page's
Outbox tab shows what waits (AppTest: the real frame and pages, in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.i18n import translate
from core.models import AuditLog, OutboxMessage, Role, User
from tests.conftest import _apply_env
from tests.utils.builders import PASSWORD, create_random_user
from tests.web.conftest import app, texts

ROOT = Path(__file__).resolve().parents[2]


def _account(user: User, lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "account.py"), default_timeout=30)
    at.session_state["_vorm_user"] = user
    at.session_state["lang"] = lang
    return at.run()


def _change_email(user: User, lang: str = "en") -> str:
    at = _account(user, lang)
    at.text_input(key="account_new_email").set_value(f"new-{user.id}@example.org")
    at.text_input(key="account_email_password").set_value(PASSWORD)
    at.button(key="FormSubmitter:account_email_form-" + translate("Send confirmation link", lang)).click().run()
    assert not at.exception and not at.error
    kind, _msgid, message = at.session_state["_vorm_flash"]
    assert kind == "success"
    return str(message).replace("\\", "")  # the address is escaped for Markdown


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_without_smtp_no_page_says_the_mail_was_sent(web_session, lang):
    user = create_random_user(web_session)
    said = _change_email(user, lang)
    assert "We sent" not in said and "verstuurd" not in said.lower() and "gestuurd" not in said.lower()
    assert said == translate("A confirmation link for {email} is waiting to be sent: this installation has no mail "
                             "server set up yet, so ask its operator for it. Your address changes when you open it "
                             "(within 24 hours).", lang, email=f"new-{user.id}@example.org")
    # The password reset answer on the login page too.
    at = app(lang=lang).run()
    at.text_input(key="reset_email").set_value(user.email)
    at.button(key="FormSubmitter:forgot_form-" + translate("Send reset link", lang)).click().run()
    shown = " ".join(str(e.value) for e in at.success)
    assert shown == translate("If an account exists for that address, a link to reset the password is waiting to be "
                              "sent. This installation has no mail server set up yet: ask its operator, who can see "
                              "the link.", lang)


def test_with_smtp_the_page_says_the_mail_is_on_its_way(web_session, monkeypatch):
    _apply_env(monkeypatch, SMTP_HOST="127.0.0.1", SMTP_PORT="2525")
    user = create_random_user(web_session)
    assert _change_email(user).startswith(f"A confirmation link is on its way to new-{user.id}@example.org.")


def _outbox_tab(token: str, lang: str | None = None) -> AppTest:
    at = app(token, script="pages/admin.py", lang=lang)
    at.session_state["admin_tab"] = translate("Outbox", lang)
    return at.run()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_admin_sees_the_outbox_and_opening_a_message_is_audited(web_session, login, lang):
    from core.mail import enqueue_mail

    admin = create_random_user(web_session, role=Role.ADMIN)
    user = create_random_user(web_session)
    enqueue_mail(web_session, to=user.email, subject="Confirm your new email address for Vorm",
                 body="Open http://localhost:8501/?confirm_email=abc123 within 24 hours.", kind="email_change",
                 user_id=user.id)
    # A row from before the input checks: shown escaped, marked as one that cannot be sent.
    web_session.add(OutboxMessage(to_address="support@vorm.local", subject="Ticket #1: hi\r\nBcc: x@example.com",
                                  body="b", kind="support_ticket", status="failed", attempts=1,
                                  last_error="ValueError: Header values may not contain linefeed or carriage return"))
    web_session.commit()
    at = _outbox_tab(login(admin), lang)
    assert not at.exception
    assert translate("No mail server is set up (SMTP_HOST), so no mail is sent: every mail waits here, and its "
                     "recipient, subject and links are also written to the web and worker logs.", lang) in texts(at)
    table = at.dataframe[0].value
    subject, status = translate("Mail subject", lang), translate("Status", lang)
    assert table[subject].tolist() == ["Ticket #1: hi\\r\\nBcc: x@example.com",
                                       "Confirm your new email address for Vorm"]
    assert table[status].tolist() == [translate("cannot be sent", lang), translate("waiting to be sent", lang)]
    mail_id = web_session.exec(select(OutboxMessage.id).where(OutboxMessage.kind == "email_change")).one()
    at.selectbox(key="admin_outbox_message").set_value(mail_id)
    at.button(key="FormSubmitter:admin_outbox_open-" + translate("Show the text", lang)).click().run()
    assert not at.exception
    assert "http://localhost:8501/?confirm_email=abc123" in " ".join(str(c.value) for c in at.code)
    row = web_session.exec(select(AuditLog).where(AuditLog.action == "admin.mail_opened")).one()
    assert row.actor == f"admin:{admin.id}" and row.user_id == user.id


def test_the_outbox_tab_is_for_admins_only_checked_on_the_server(web_session, login):
    from core.accounts.roles import NotAnAdmin
    from core.admin import actions

    user = create_random_user(web_session)
    at = _outbox_tab(login(user))
    assert not at.dataframe and "not allowed" in texts(at)
    with pytest.raises(NotAnAdmin):
        actions.outbox(web_session, admin=user)
