"""The admin page in a real browser, with the seed-demo data set, in English and Dutch; and /admin for a
user who is no admin. Screenshots: artifacts/screenshots/admin-*.png (look at them)."""

from __future__ import annotations

import re
import uuid

import pytest

from core.i18n import translate
from tests.e2e.conftest import shot
from tests.e2e.test_dutch import english_leftovers
from tests.e2e.test_journey import PASSWORD, settle, wait_app

pytestmark = pytest.mark.e2e


def _account(product, *, role: str, locale: str) -> str:  # type: ignore[no-untyped-def]
    from core.accounts import auth

    email = f"{role}-{locale}-{uuid.uuid4().hex[:8]}@example.org"
    with product.db_session() as session:
        auth.create_user(session, email=email, password=PASSWORD, name="Beheer", role=role, locale=locale)
        session.commit()
    return email


@pytest.fixture(scope="module")
def demo_data(product):  # type: ignore[no-untyped-def]
    from core.admin import demo

    with product.db_session() as session:
        demo.seed(session, users=80, jobs=900, models=200)


def _log_in(page, url: str, email: str, lang: str) -> None:  # type: ignore[no-untyped-def]
    t = lambda m: translate(m, lang)  # noqa: E731
    page.goto(url + "/")
    page.get_by_label(t("Email address")).first.fill(email)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t("Log in")).click()
    page.get_by_role("heading", name=t("New model")).wait_for()
    settle(page)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_admin_page_with_demo_data(browser, product, demo_data, lang):  # type: ignore[no-untyped-def]
    t = lambda m: translate(m, lang)  # noqa: E731
    context = browser.new_context(viewport={"width": 1400, "height": 2600}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _log_in(page, product.url, _account(product, role="admin", locale=lang), lang)
        page.get_by_role("link", name=re.compile(t("Metrics"))).click()
        page.get_by_role("heading", name=t("Workers")).wait_for()
        page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
        wait_app(page)
        page.wait_for_timeout(1500)
        shot(page, f"admin-{lang}-1-overview")
        leftovers = english_leftovers(page) if lang == "nl" else []
        for number, tab in enumerate(("Jobs", "Support", "Privacy", "Audit log"), start=2):
            page.get_by_role("tab", name=t(tab)).click()
            wait_app(page)
            if tab == "Jobs":
                page.get_by_role("heading", name=t("Most frequent failures")).wait_for()
                page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.wait_for()
                page.wait_for_timeout(2500)
            page.wait_for_timeout(800)
            shot(page, f"admin-{lang}-{number}-{tab.lower().replace(' ', '-')}")
            if lang == "nl":
                leftovers += english_leftovers(page)
        assert leftovers == []
        # The privacy tab showed the seeded overdue requests with their due dates.
        page.get_by_role("tab", name=t("Privacy")).click()
        wait_app(page)
        page.get_by_text(re.compile("past (its|their) legal deadline" if lang == "en"
                                    else "over de wettelijke termijn heen")).wait_for()
        page.get_by_text("⚠ ").first.wait_for(state="attached")  # the overdue one is marked (a canvas grid cell)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_a_user_is_refused_at_admin_in_their_language(browser, product, lang):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _log_in(page, product.url, _account(product, role="user", locale=lang), lang)
        page.goto(product.url + "/admin")
        page.get_by_text(translate("You are not allowed to see this page.", lang)).wait_for()
        wait_app(page)
        assert page.get_by_text("Page not found").count() == 0
        assert page.get_by_role("heading", name=translate("Workers", lang)).count() == 0
        shot(page, f"admin-{lang}-refused")
    finally:
        context.close()
