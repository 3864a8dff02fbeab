"""The plan in a real browser, in English and Dutch: premium's price before upgrading (Account and upload
pages), more generations today than the plan now allows, and the sidebar right after an email change is
confirmed. Screenshots: artifacts/screenshots/plan-*.png (look at them)."""

from __future__ import annotations

import re
import uuid

import pytest

from core.i18n import translate, translate_plural
from tests.e2e.conftest import shot
from tests.e2e.test_admin import _log_in
from tests.e2e.test_dutch import english_leftovers
from tests.e2e.test_journey import PASSWORD, wait_app

pytestmark = pytest.mark.e2e

PRICE = {"en": "€9.99 per month", "nl": "€\xa09,99 per maand"}  # the stub's Price: 999 eur a month


def _user_with_six_generations_today(product, lang: str) -> str:  # type: ignore[no-untyped-def]
    """A free account that made 6 models today while it was premium (the free plan allows 5 a day)."""
    from core.accounts import auth
    from core.jobs import queue
    from core.models import JobStatus

    email = f"plan-{lang}-{uuid.uuid4().hex[:8]}@example.org"
    with product.db_session() as session:
        user = auth.create_user(session, email=email, password=PASSWORD, name="Ada", locale=lang,
                                accepted_policy="2026-11-25")
        session.flush()
        for _ in range(6):
            queue.insert_job(session, user_id=user.id, upload_ids=[]).status = JobStatus.SUCCEEDED
        session.commit()
    return email


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_price_before_upgrading_and_a_sensible_count_after_premium(browser, product, lang):  # type: ignore[no-untyped-def]
    t = lambda m, **f: translate(m, lang, **f)  # noqa: E731
    context = browser.new_context(viewport={"width": 1360, "height": 1100}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _log_in(page, product.url, _user_with_six_generations_today(product, lang), lang)
        wait_app(page)
        page.get_by_text(t("Premium: {n} generations a day, all formats and a higher resolution, for {price}.",
                           n=200, price=PRICE[lang])).wait_for()
        page.get_by_role("link", name=t("Upgrade to premium")).wait_for()
        page.get_by_text(translate_plural("You have no generations left today: your plan allows {n} a day.",
                                          "You have no generations left today: your plan allows {n} a day.", 5,
                                          lang)).wait_for()
        page.get_by_test_id("stSidebar").get_by_text(t("No generations left today")).wait_for()
        page.wait_for_timeout(800)
        shot(page, f"plan-{lang}-1-upload")
        leftovers = english_leftovers(page) if lang == "nl" else []

        page.get_by_role("link", name=t("Upgrade to premium")).click()
        page.get_by_role("heading", name=t("Plan and subscription")).wait_for()
        wait_app(page)
        page.get_by_text("Premium: " + PRICE[lang]).wait_for()
        page.get_by_text(translate_plural(
            "{n} generation today; your plan allows {limit} a day, so none are left today.",
            "{n} generations today; your plan allows {limit} a day, so none are left today.", 6, lang,
            limit=5)).wait_for()
        page.get_by_role("button", name=t("Upgrade to premium")).wait_for()
        page.wait_for_timeout(800)
        shot(page, f"plan-{lang}-2-account")
        if lang == "nl":
            leftovers += english_leftovers(page)
        assert leftovers == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_sidebar_shows_the_new_address_once_the_link_is_opened(browser, product, lang):  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from core.models import OutboxMessage, User
    from core.privacy import correction

    t = lambda m, **f: translate(m, lang, **f)  # noqa: E731
    email = _user_with_six_generations_today(product, lang)
    new_email = f"new-{uuid.uuid4().hex[:8]}@example.org"
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _log_in(page, product.url, email, lang)
        page.get_by_text(t("Signed in as {email}", email=email)).wait_for()
        with product.db_session() as session:  # what the Account page's form does; the link comes by mail
            user = session.exec(select(User).where(User.email == email)).one()
            correction.request_email_change(session, user=user, new_email=new_email, password=PASSWORD)
            body = session.exec(select(OutboxMessage).where(OutboxMessage.to_address == new_email)).one().body
        link = re.search(r"/\?confirm_email=[\w-]+", body).group(0)
        page.goto(product.url + link)  # opened in the browser that is logged in
        page.get_by_text(t("Your new email address is confirmed.")).wait_for()
        wait_app(page)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text(t("Signed in as {email}", email=new_email)).wait_for()
        assert sidebar.get_by_text(email).count() == 0
        shot(page, f"plan-{lang}-3-email-confirmed")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_admin_overview_by_the_hour(browser, product, lang):  # type: ignore[no-untyped-def]
    from tests.e2e.test_admin import _account

    t = lambda m, **f: translate(m, lang, **f)  # noqa: E731
    context = browser.new_context(viewport={"width": 1400, "height": 2000}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _log_in(page, product.url, _account(product, role="admin", locale=lang), lang)
        page.get_by_role("link", name=re.compile(t("Metrics"))).click()
        page.get_by_role("heading", name=t("Workers")).wait_for()
        page.get_by_text(t("24 hours"), exact=True).click()
        wait_app(page)
        page.locator("[data-testid='stVegaLiteChart']").first.wait_for()  # at least the new accounts (this admin)
        page.wait_for_timeout(1500)
        assert page.get_by_text("empty", exact=True).count() == 0
        shot(page, f"plan-{lang}-4-admin-24h")
        if lang == "nl":
            assert english_leftovers(page) == []
    finally:
        context.close()
