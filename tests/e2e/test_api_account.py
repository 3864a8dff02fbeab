"""The Account page's API keys and webhooks sections in a real browser, in English and Dutch.

A key made on the page works against /api/v1 at once and stops working when revoked there; an
endpoint refuses a loopback URL (WEBHOOKS_ALLOW_PRIVATE is off in this product) and takes a public one,
whose secret is shown once. Screenshots: artifacts/screenshots/api-account-{en,nl}*.png.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from core.i18n import translate
from tests.e2e.conftest import shot
from tests.e2e.test_dutch import english_leftovers
from tests.e2e.test_journey import register, settle, wait_app

PUBLIC_RECEIVER = "https://93.184.215.14/vorm-hook"  # a literal public address: no DNS needed, never contacted


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_account_page_makes_keys_and_webhooks(browser, product, lang: str) -> None:  # type: ignore[no-untyped-def]
    def t(message: str, **fields: object) -> str:
        return translate(message, lang, **fields)

    context = browser.new_context(viewport={"width": 1360, "height": 2600}, locale="nl-NL" if lang == "nl" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        register(page, product.url, f"api-page-{uuid.uuid4().hex[:8]}@example.org", lang=lang)
        page.goto(product.url + "/account")
        page.get_by_role("heading", name=t("API keys")).wait_for()
        wait_app(page)

        page.get_by_label(t("Name of the new key")).fill("catalogue")
        page.get_by_role("button", name=t("Create key")).click()
        page.get_by_text(t("Your new API key. Copy it now: it is shown only this once.")).wait_for()
        wait_app(page)
        shown = page.get_by_text(re.compile(r"vorm_[A-Za-z0-9_-]{30,}")).first
        shown.wait_for()
        key = re.search(r"vorm_[A-Za-z0-9_-]{30,}", shown.inner_text()).group(0)  # type: ignore[union-attr]
        api = f"{product.url}/api/v1/account"
        assert httpx.get(api, headers={"Authorization": f"Bearer {key}"}).status_code == 200

        url_field = page.get_by_label(t("URL of your receiver"))
        url_field.fill("http://127.0.0.1:8501/hook")
        page.get_by_role("button", name=t("Add endpoint")).click()
        page.get_by_text(t("The webhook URL points to a private, loopback, link-local or metadata address ({address}). "
                           "Webhooks are sent to public addresses only.", address="127.0.0.1")).wait_for()
        wait_app(page)
        url_field.fill(PUBLIC_RECEIVER)
        page.get_by_role("button", name=t("Add endpoint")).click()
        page.get_by_text(t("The endpoint's signing secret. Copy it now: it is shown only this once.")).wait_for()
        wait_app(page)
        page.get_by_text(re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")).first.wait_for()
        page.get_by_role("button", name=t("I have saved it")).click()
        expect(page.locator("body")).not_to_contain_text("whsec_")  # gone once the user has saved it
        page.get_by_role("button", name=t("Send test event")).click()
        page.get_by_text(t("A test event is on its way; it shows in the log below.")).wait_for()
        wait_app(page)
        page.locator("[data-testid='stDataFrame']").last.wait_for()  # the delivery log, with the test event
        shot(page, f"api-account-{lang}")
        assert english_leftovers(page) == [] if lang == "nl" else True

        page.get_by_role("button", name=t("Revoke")).click()
        page.get_by_text(t("The key was revoked. Requests with it are refused from now on.")).wait_for()
        settle(page)
        assert httpx.get(api, headers={"Authorization": f"Bearer {key}"}).status_code == 401
        shot(page, f"api-account-{lang}-revoked")
    finally:
        context.close()
