"""Buying, managing and losing premium in the browser, and the flash messages after each account action.

The product talks to a local Stripe API (tests/utils/stripe_stub.py): Checkout and the Billing Portal
are pages on the stub, so the browser really lands there. Stripe's webhooks are signed with the
product's signing secret, as Stripe signs them, and POSTed to the running web app's real route.
Screenshots of the Account page in each state, in English and Dutch: artifacts/screenshots/*-account-*.png.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.i18n import translate
from tests.e2e.conftest import STRIPE_WEBHOOK_SECRET, shot
from tests.e2e.test_dutch import english_leftovers
from tests.e2e.test_journey import (
    PASSWORD,
    _empty_model,
    fill_checked,
    log_in,
    register,
    tick,
    wait_app,
)

pytestmark = pytest.mark.e2e


def post_event(product, kind: str, obj: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A Stripe event, signed like Stripe signs it, to the web app's /webhooks/stripe."""
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": kind, "created": int(time.time()),
                       "data": {"object": obj}}).encode()
    t = int(time.time())
    mac = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(product.url + "/webhooks/stripe", data=body, method="POST", headers={
        "Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200
        return dict(json.loads(resp.read()))


def open_account(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/account")
    page.locator("[data-testid='stHeading']").first.wait_for()
    wait_app(page)
    page.wait_for_timeout(800)
    wait_app(page)


def user_row(product, email: str):  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from core.models import User

    with product.db_session() as session:
        return session.exec(select(User).where(User.email == email)).one()


def test_buy_manage_and_lose_premium(page, product) -> None:  # type: ignore[no-untyped-def]
    url, stripe = product.url, product.stripe
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.org"
    register(page, url, email)
    open_account(page, url)
    page.get_by_text("Your plan: free").wait_for()
    shot(page, "en-account-free")

    page.get_by_role("button", name="Upgrade to premium").click()
    page.wait_for_url(re.compile(re.escape(stripe.url) + r"/checkout/cs_test_stub_\d+"))
    session_id = page.url.rsplit("/", 1)[-1]
    checkout = stripe.checkout_sessions[session_id]
    user = user_row(product, email)
    assert (checkout["client_reference_id"], checkout["mode"], checkout["customer"]) == (
        str(user.id), "subscription", user.stripe_customer_id)

    # Stripe sends the browser back before its webhook arrives: the page waits, then shows premium.
    page.goto(url + "/account?checkout=success")
    page.get_by_text("Your payment is being confirmed").wait_for()
    paid = stripe.complete_checkout(session_id)
    assert post_event(product, "checkout.session.completed", paid)["result"] == "subscribed"
    page.get_by_text("Welcome to premium! Your payment is confirmed.").wait_for(timeout=20_000)
    page.get_by_text("Your plan: premium").wait_for()
    page.get_by_text("Your subscription renews on").wait_for()
    wait_app(page)
    shot(page, "en-account-premium")

    # PLY and 3MF downloads are unlocked on the model page.
    model_id = _empty_model(product, email)
    page.goto(url + f"/model?id={model_id}")
    page.get_by_role("heading", name="empty").wait_for()
    page.get_by_role("heading", name="Downloads").wait_for()
    wait_app(page)
    for fmt in ("PLY", "3MF"):
        page.locator("[data-testid='stDownloadButton']").filter(has_text=f"Download {fmt}").wait_for()
    assert page.get_by_text("More formats (PLY, 3MF) come with premium.").count() == 0

    open_account(page, url)
    page.get_by_role("button", name="Manage subscription").click()
    page.wait_for_url(re.compile(re.escape(stripe.url) + r"/portal/bps_stub_\d+"))
    assert stripe.portal_sessions[page.url.rsplit("/", 1)[-1]]["return_url"] == url + "/account"

    # A payment fails: premium for the grace period, with a banner on every page.
    sub_id = paid["subscription"]
    stripe.subscriptions[sub_id]["status"] = "past_due"
    assert post_event(product, "invoice.payment_failed", {"id": "in_fail", "object": "invoice", "customer":
                                                          checkout["customer"], "subscription": sub_id})["result"] \
        == "past_due"
    page.goto(url + "/library")
    page.get_by_text("Your last payment failed.").wait_for()
    open_account(page, url)
    page.get_by_text("Your plan: premium").wait_for()
    shot(page, "en-account-past-due")

    # Cancelled at Stripe: free again, with the retention notice.
    ended = stripe.cancel(sub_id)
    assert post_event(product, "customer.subscription.deleted", ended)["result"] == "canceled"
    open_account(page, url)
    page.get_by_text("Your plan: free").wait_for()
    page.get_by_text("Your premium subscription ended on").wait_for()
    page.get_by_text("Your uploads and models are kept until", exact=False).first.wait_for()
    shot(page, "en-account-ended")
    assert user_row(product, email).plan == "free"


def test_the_account_page_in_dutch_in_each_state(browser, product) -> None:  # type: ignore[no-untyped-def]
    def nl(message: str, **fields: object) -> str:
        return translate(message, "nl", **fields)

    context = browser.new_context(viewport={"width": 1360, "height": 1400}, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(30_000)
    url, stripe = product.url, product.stripe
    email = f"koper-{uuid.uuid4().hex[:8]}@example.org"
    try:
        register(page, url, email, name="Anna", lang="nl")

        def state(name: str, text: str) -> None:
            open_account(page, url)
            page.get_by_text(text).first.wait_for()
            wait_app(page)
            shot(page, f"nl-account-{name}")
            assert english_leftovers(page) == []

        state("free", nl("Upgrade to premium"))
        page.get_by_role("button", name=nl("Upgrade to premium")).click()
        page.wait_for_url(re.compile(re.escape(stripe.url) + r"/checkout/"))
        paid = stripe.complete_checkout(page.url.rsplit("/", 1)[-1])
        post_event(product, "checkout.session.completed", paid)
        state("premium", nl("Manage subscription"))
        stripe.subscriptions[paid["subscription"]]["status"] = "past_due"
        post_event(product, "customer.subscription.updated", stripe.subscriptions[paid["subscription"]])
        state("past-due", nl("Your last payment failed. Update your payment details before {date} to keep premium.",
                             date="")[:25])
        post_event(product, "customer.subscription.deleted", stripe.cancel(paid["subscription"]))
        state("ended", nl("Your premium subscription ended on {date}. Your uploads and models are kept until {kept}; "
                          "after that, the free plan's rule applies: they are deleted {days} days after creation.",
                          date="", kept="", days=30)[:25])
    finally:
        context.close()


def test_flash_messages_survive_the_rerun_or_redirect(page, product) -> None:  # type: ignore[no-untyped-def]
    url = product.url
    email = f"flash-{uuid.uuid4().hex[:8]}@example.org"
    register(page, url, email)
    page.get_by_text("Welcome! Your account is ready.").wait_for()

    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out.").wait_for()
    wait_app(page)

    log_in(page, url, email)
    page.get_by_text("Welcome back! You are logged in.").wait_for()

    def submit(form, button: str, done: Callable[[], bool], message: str | re.Pattern[str]) -> None:  # type: ignore[no-untyped-def]
        """Press the form's button and wait for its flash message.

        On a loaded machine a click can land while the run that drew the form is still finishing,
        and the browser then never sends it. The server's state tells the two cases apart: if the
        change was not made, the press was lost and is repeated; if it was made, the flash message
        must show, or the test fails.
        """
        for _ in range(2):
            wait_app(page)
            form.get_by_role("button", name=button).click()
            try:
                page.get_by_text(message).first.wait_for(timeout=20_000)
                return
            except PlaywrightTimeout:
                assert not done(), f"the change was made, but its message never showed: {message}"
        page.get_by_text(message).first.wait_for()

    def password_is(password: str) -> bool:
        from core.accounts.auth import verify_password

        return verify_password(password, user_row(product, email).password_hash)

    def account_gone() -> bool:
        from sqlmodel import select

        from core.models import User

        with product.db_session() as session:
            return session.exec(select(User).where(User.email == email)).first() is None

    open_account(page, url)
    page.get_by_text("Change password").first.click()
    form = page.locator("[data-testid='stForm']").filter(has=page.get_by_role("button", name="Change password"))
    fill_checked(form.get_by_role("textbox", name="Current password"), PASSWORD)
    fill_checked(form.get_by_role("textbox", name="New password"), "a-new-password-42")
    submit(form, "Change password", lambda: password_is("a-new-password-42"),
           "Your password was changed. You stay logged in here")
    wait_app(page)

    page.goto(url + "/my-data")
    page.get_by_role("heading", name="My data").wait_for()
    wait_app(page)
    page.get_by_text("Delete your account").first.click()
    form = page.locator("[data-testid='stForm']").last
    fill_checked(form.get_by_role("textbox", name="Current password"), "a-new-password-42")
    tick(form, "I understand that this cannot be undone")
    submit(form, "Delete my account", account_gone,
           re.compile(r"Your account and all its data have been deleted|Your account is closed"))
    page.get_by_role("heading", name="Log in").wait_for()
