"""The Account page (AppTest, real database, Stripe stub): plan states, upgrade, portal, the account's settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.i18n import translate, translate_plural
from core.models import CheckoutSession, InvoiceRecord, Subscription, User, utcnow
from tests.utils.builders import PASSWORD, create_random_user
from tests.web.conftest import texts

TIMEOUT = 30
PAGE = Path(__file__).resolve().parents[2] / "pages" / "account.py"


def account(user: User, *, lang: str = "en", token: str | None = None, params: dict[str, str] | None = None
            ) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.session_state["_vorm_user"] = user
    at.session_state["lang"] = lang
    if token:
        at.session_state["_vorm_token"] = token
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def subscribe(session, user: User, status: str, **fields) -> Subscription:  # type: ignore[no-untyped-def]
    sub = Subscription(user_id=user.id, stripe_customer_id="cus_page", stripe_subscription_id=f"sub_{status}",
                       status=status, **fields)
    user.stripe_customer_id = "cus_page"
    user.plan = "premium" if status in ("active", "past_due") and not fields.get("ended_at") else "free"
    session.add_all([sub, user])
    session.commit()
    return sub


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_each_state_says_what_it_is_and_offers_its_action(web_session, lang):
    def t(message: str, **fields: object) -> str:
        return translate(message, lang, **fields)

    user = create_random_user(web_session)
    at = account(user, lang=lang)
    assert not at.exception
    assert at.button(key="account_upgrade").label == t("Upgrade to premium")
    assert "account_manage" not in [b.key for b in at.button]
    assert t("No invoices yet.") in texts(at)

    sub = subscribe(web_session, user, "active", current_period_end=utcnow() + timedelta(days=20))
    web_session.add(InvoiceRecord(user_id=user.id, stripe_invoice_id="in_page", amount_cents=900, currency="eur"))
    web_session.commit()
    at = account(user, lang=lang)
    assert not at.exception and "account_upgrade" not in [b.key for b in at.button]
    assert at.button(key="account_manage").label == t("Manage subscription")
    assert t("Your subscription renews on {date}.", date="")[:20] in texts(at)
    invoices = at.dataframe[0].value
    assert list(invoices.iloc[0])[1] == ("€\xa09,00" if lang == "nl" else "€9.00")

    sub.status, sub.past_due_since = "past_due", utcnow()
    web_session.add(sub)
    web_session.commit()
    at = account(user, lang=lang)
    assert t("Your last payment failed. Update your payment details before {date} to keep premium.",
             date="")[:30] in texts(at)

    sub.status, sub.ended_at = "canceled", utcnow()
    user.plan = "free"
    web_session.add_all([sub, user])
    web_session.commit()
    at = account(user, lang=lang)
    assert t("Your premium subscription ended on {date}. Your uploads and models are kept until {kept}; after "
             "that, the free plan's rule applies: they are deleted {days} days after creation.", date="", kept="",
             days=30)[:30] in texts(at)
    assert at.button(key="account_upgrade") and at.button(key="account_manage")


def test_upgrade_sends_the_browser_to_the_checkout_url_and_a_double_click_reuses_it(web_session, stripe_stub):
    user = create_random_user(web_session)
    at = account(user)
    at.button(key="account_upgrade").click().run()
    assert not at.exception and not at.error
    [link] = at.get("link_button")
    assert link.proto.url.startswith(stripe_stub.url + "/checkout/")
    assert any(link.proto.url in h.proto.body for h in at.get("html"))  # the script that takes the browser there
    at = account(user)
    at.button(key="account_upgrade").click().run()
    assert at.get("link_button")[0].proto.url == link.proto.url
    assert len(web_session.exec(select(CheckoutSession)).all()) == 1


def test_stripe_unreachable_is_one_clear_message_and_nothing_changes(web_session, stripe_stub, monkeypatch):
    from core.billing.client import reset_client
    from core.config import reset_settings
    from tests.conftest import free_port

    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    reset_settings()
    reset_client()
    user = create_random_user(web_session)
    for lang in ("en", "nl"):
        at = account(user, lang=lang)
        at.button(key="account_upgrade").click().run()
        assert [e.value for e in at.error] == [translate(
            "Payments are unavailable right now, try again in a few minutes.", lang)]
    web_session.expire_all()
    assert web_session.get(User, user.id).stripe_customer_id is None
    assert web_session.exec(select(CheckoutSession)).all() == []


def test_back_from_checkout_the_page_waits_for_the_webhook(web_session):
    user = create_random_user(web_session)
    at = account(user, params={"checkout": "success"})
    assert "being confirmed" in texts(at)
    user.plan = "premium"
    web_session.add(user)
    web_session.commit()
    at = account(user, params={"checkout": "success"})
    assert "Welcome to premium!" in texts(at)


@pytest.mark.parametrize("name", ["", "   "])  # past 100 characters the field itself stops typing (core checks too)
def test_the_display_name_is_checked_with_a_clear_message(web_session, name):
    user = create_random_user(web_session)
    at = account(user)
    at.text_input(key="account_name").set_value(name)
    at.button(key="FormSubmitter:account_name_form-Save name").click().run()
    assert [e.value for e in at.error] == ["Please enter a display name."]
    web_session.expire_all()
    assert web_session.get(User, user.id).name == "Test User"


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_password_is_changed_here_and_other_sessions_end(web_session, lang):
    from core.accounts import auth, sessions
    from core.errors import SessionInvalid, WrongCredentials

    user = create_random_user(web_session)
    here = sessions.create_session(web_session, user=user)
    elsewhere = sessions.create_session(web_session, user=user)
    submit = "FormSubmitter:account_password_form-" + translate("Change password", lang)
    at = account(user, lang=lang, token=here)
    at.text_input(key="account_pw_current").set_value("not-the-password-1")
    at.text_input(key="account_pw_new").set_value("a-new-password-42")
    at.button(key=submit).click().run()
    assert at.error and not at.exception  # the wrong current password changes nothing
    auth.authenticate(web_session, email=user.email, password=PASSWORD)

    at.text_input(key="account_pw_current").set_value(PASSWORD)
    at.text_input(key="account_pw_new").set_value("a-new-password-42")
    at.button(key=submit).click().run()
    assert not at.exception and not at.error
    web_session.expire_all()
    assert auth.authenticate(web_session, email=user.email, password="a-new-password-42").id == user.id
    with pytest.raises(WrongCredentials):
        auth.authenticate(web_session, email=user.email, password=PASSWORD)
    sessions.resolve_session(web_session, here)  # this browser stays logged in
    with pytest.raises(SessionInvalid):
        sessions.resolve_session(web_session, elsewhere)


def test_the_sidebar_shows_the_new_address_as_soon_as_the_change_is_confirmed(web_session, login):
    import re

    from core.models import OutboxMessage
    from core.privacy import correction
    from tests.web.conftest import app

    user = create_random_user(web_session)
    token = login(user)
    correction.request_email_change(web_session, user=user, new_email="ada@new.example", password=PASSWORD)
    mail = web_session.exec(select(OutboxMessage).where(OutboxMessage.kind == "email_change")).one()
    link = re.search(r"confirm_email=([\w-]+)", mail.body).group(1)

    at = app(token, params={"confirm_email": link}).run()
    assert not at.exception
    assert "Your new email address is confirmed." in texts(at)
    sidebar = "\n".join(str(c.value) for c in at.sidebar.caption)
    assert "Signed in as ada\\@new\\.example" in sidebar, sidebar


@pytest.mark.parametrize(("lang", "shown"), [("en", "€9.99 per month"), ("nl", "€\xa09,99 per maand")])
def test_the_price_of_premium_is_shown_before_upgrading_on_account_and_upload(web_session, login, stripe_stub, lang,
                                                                              shown):
    from core.billing.price import reset_price_cache
    from tests.web.conftest import app

    reset_price_cache()
    stripe_stub.set_price("price_premium_monthly", unit_amount=999, currency="eur", interval="month")
    user = create_random_user(web_session)
    at = account(user, lang=lang)
    assert not at.exception
    assert shown in texts(at)
    at = app(login(user), lang=lang).run()  # the upload page, in the frame
    assert not at.exception
    assert translate("Premium: {n} generations a day, all formats and a higher resolution, for {price}.", lang,
                     n=200, price=shown) in texts(at)

    subscribe(web_session, user, "active", current_period_end=utcnow() + timedelta(days=20))
    assert shown not in texts(account(user, lang=lang))  # a subscriber is not offered it again
    reset_price_cache()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_more_generations_today_than_the_plan_now_allows_reads_sensibly(web_session, lang):
    from core.jobs import queue
    from core.models import JobStatus

    user = create_random_user(web_session)  # premium ended this morning after 6 generations
    for _ in range(6):
        queue.insert_job(web_session, user_id=user.id, upload_ids=[]).status = JobStatus.SUCCEEDED
    web_session.commit()
    at = account(user, lang=lang)
    assert not at.exception
    shown = texts(at)
    assert translate_plural("{n} generation today; your plan allows {limit} a day, so none are left today.",
                            "{n} generations today; your plan allows {limit} a day, so none are left today.", 6,
                            lang, limit=5) in shown
    assert "6 of 5" not in shown and "6 van 5" not in shown
