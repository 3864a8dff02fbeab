"""The admin page's Outbox tab in Chromium, in English and Dutch, against the plain-started web process
(issue 17 §6: mail on a default install). Screenshots: artifacts/screenshots/outbox-*.png (look at them)."""

from __future__ import annotations

import re

import pytest

from core.i18n import translate
from tests.conftest import _apply_env
from tests.e2e.conftest import shot
from tests.e2e.test_admin import _log_in
from tests.e2e.test_dutch import english_leftovers
from tests.e2e.test_journey import PASSWORD, wait_app

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_outbox_tab_shows_what_waits(web_server, browser, monkeypatch, lang):  # type: ignore[no-untyped-def]
    from core.accounts import auth
    from core.db import get_session, reset_engines
    from core.models import OutboxMessage
    from core.privacy import correction
    from core.support import tickets

    server = web_server()
    _apply_env(monkeypatch, DATABASE_URL=server.env["DATABASE_URL"], DATA_DIR=server.env["DATA_DIR"],
               STORAGE_DIR=server.env["STORAGE_DIR"])
    monkeypatch.delenv("SECRET_KEY", raising=False)
    try:
        with get_session() as session:
            admin = auth.create_user(session, email=f"beheer-{lang}@example.org", password=PASSWORD, name="Beheer",
                                     role="admin", locale=lang)
            ada = auth.create_user(session, email="ada@example.org", password=PASSWORD, name="Ada", locale=lang)
            # A row from before the input checks, then a ticket and an email change (the newest: shown first).
            session.add(OutboxMessage(to_address="support@vorm.local", kind="support_ticket", status="failed",
                                      subject="Ticket #7: subject\r\nBcc: x@example.com", body="old row", attempts=1,
                                      last_error="ValueError: Header values may not contain linefeed or carriage "
                                                 "return characters"))
            session.commit()
            tickets.create_ticket(session, user=ada, email=ada.email, subject="My print is a speck",
                                  body="The STL is 1 mm wide.")
            correction.request_email_change(session, user=ada, new_email="ada@new.example.org", password=PASSWORD)
            admin_email = admin.email
    finally:
        reset_engines()
    t = lambda m: translate(m, lang)  # noqa: E731
    context = browser.new_context(viewport={"width": 1400, "height": 1300}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _log_in(page, server.url, admin_email, lang)
        page.get_by_role("link", name=re.compile(t("Metrics"))).click()
        page.get_by_role("tab", name=t("Outbox")).click()
        wait_app(page)
        page.get_by_text(t("No mail server is set up (SMTP_HOST), so no mail is sent: every mail waits here, and its "
                           "recipient, subject and links are also written to the web and worker logs.")).wait_for()
        page.locator("[data-testid='stDataFrame']").first.wait_for()
        page.get_by_role("button", name=t("Show the text")).click()
        wait_app(page)
        page.get_by_text("?confirm_email=").wait_for()
        page.wait_for_timeout(800)
        shot(page, f"outbox-{lang}")
        assert page.locator("[data-testid='stException']").count() == 0
        if lang == "nl":
            assert english_leftovers(page) == []
    finally:
        context.close()
    assert "Traceback" not in server.log.read_text()
