"""Checkout, the billing portal and entitlements against the local Stripe stub, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select

from core.billing import checkout, entitlements
from core.billing.client import PaymentsUnavailable, reset_client
from core.config import reset_settings
from core.db import get_session
from core.models import AuditLog, CheckoutSession, OutboxMessage, Subscription, User, utcnow
from tests.conftest import free_port
from tests.utils.builders import create_random_user


def test_checkout_reuses_or_creates_the_customer_and_asks_for_the_price_in_subscription_mode(session, stripe_stub,
                                                                                             monkeypatch):
    monkeypatch.setenv("STRIPE_PRICE_ID", "price_test_premium")
    monkeypatch.setenv("PUBLIC_URL", "https://vorm.example.org")
    reset_settings()
    user = create_random_user(session)
    url = checkout.start_checkout(session, user_id=user.id)

    assert url.startswith(stripe_stub.url + "/checkout/cs_test_stub_")
    [(_, customer), (_, params)] = stripe_stub.posted
    assert customer["email"] == user.email and customer["metadata[user_id]"] == str(user.id)
    assert params["mode"] == "subscription"
    assert params["line_items[0][price]"] == "price_test_premium"
    assert params["client_reference_id"] == str(user.id)
    assert params["success_url"] == "https://vorm.example.org/account?checkout=success"
    assert params["cancel_url"] == "https://vorm.example.org/account?checkout=cancelled"
    session.expire_all()
    user = session.get(User, user.id)
    assert user.stripe_customer_id == params["customer"] and user.stripe_customer_id in stripe_stub.customers

    # Later (the reuse window past): the same customer, a new session.
    session.exec(select(CheckoutSession)).one().created_at = utcnow() - timedelta(hours=1)
    session.commit()
    second = checkout.start_checkout(session, user_id=user.id)
    assert second != url
    assert [path for path, _ in stripe_stub.posted].count("/v1/customers") == 1
    assert stripe_stub.posted[-1][1]["customer"] == user.stripe_customer_id


def test_a_double_click_makes_one_checkout_session(db, session, stripe_stub):
    user = create_random_user(session)
    stripe_stub.delay_seconds = 0.3  # both clicks are inside Stripe's answer time
    start = threading.Barrier(4)

    def click(_: int) -> str:
        start.wait()
        with get_session() as s:
            return checkout.start_checkout(s, user_id=user.id)

    with ThreadPoolExecutor(4) as pool:
        urls = list(pool.map(click, range(4)))
    assert len(set(urls)) == 1, urls
    assert len(stripe_stub.checkout_sessions) == 1
    assert len(stripe_stub.customers) == 1
    session.expire_all()
    assert len(session.exec(select(CheckoutSession)).all()) == 1


def test_a_subscriber_cannot_start_a_second_subscription(session, stripe_stub, client_post):
    user = create_random_user(session)
    url = checkout.start_checkout(session, user_id=user.id)
    cs = stripe_stub.complete_checkout(url.rsplit("/", 1)[-1])
    # Paid, but the webhook has not arrived yet: Stripe is asked.
    with pytest.raises(checkout.AlreadySubscribed):
        checkout.start_checkout(session, user_id=user.id)
    assert client_post("evt_cs", "checkout.session.completed", cs).json()["result"] == "subscribed"
    with pytest.raises(checkout.AlreadySubscribed):
        checkout.start_checkout(session, user_id=user.id)
    session.expire_all()
    assert session.exec(select(CheckoutSession)).one().status == "complete"
    assert len(stripe_stub.checkout_sessions) == 1


@pytest.mark.parametrize("how", ["unreachable", "not_configured", "server_error"])
def test_stripe_unavailable_changes_nothing_and_logs_the_detail(session, monkeypatch, caplog, how, stripe_stub):
    user = create_random_user(session)
    if how == "unreachable":
        monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    elif how == "not_configured":
        monkeypatch.delenv("STRIPE_API_BASE")
        monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_placeholder")
    else:  # the customer is made, then the session fails: nothing of it may stay behind
        stripe_stub.failing.add("/v1/checkout/sessions")
    reset_settings()
    reset_client()
    with caplog.at_level(logging.ERROR), pytest.raises(PaymentsUnavailable) as info:
        checkout.start_checkout(session, user_id=user.id)
    assert str(info.value) == "Payments are unavailable right now, try again in a few minutes."
    assert info.value.render("nl") != str(info.value)
    assert ("not configured" if how == "not_configured" else "could not start a checkout") in caplog.text
    session.expire_all()
    assert session.get(User, user.id).stripe_customer_id is None
    assert session.exec(select(CheckoutSession)).all() == []
    assert session.exec(select(AuditLog).where(AuditLog.action == "billing.checkout_started")).all() == []
    if how != "server_error":
        user.stripe_customer_id = "cus_x"
        session.add(user)
        session.commit()
        with pytest.raises(PaymentsUnavailable):
            checkout.open_portal(session, user_id=user.id)


def test_the_portal_opens_for_the_customer_and_returns_to_the_account_page(session, stripe_stub, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://vorm.example.org")
    reset_settings()
    user = create_random_user(session)
    with pytest.raises(checkout.NoSubscription):
        checkout.open_portal(session, user_id=user.id)
    checkout.start_checkout(session, user_id=user.id)
    url = checkout.open_portal(session, user_id=user.id)
    assert url.startswith(stripe_stub.url + "/portal/")
    path, params = stripe_stub.posted[-1]
    assert path == "/v1/billing_portal/sessions"
    assert params == {"customer": session.get(User, user.id).stripe_customer_id,
                      "return_url": "https://vorm.example.org/account"}


def test_past_due_keeps_premium_for_the_grace_period_then_ends_it_there(session, client_post, monkeypatch):
    monkeypatch.setenv("PAST_DUE_GRACE_DAYS", "7")
    reset_settings()
    user = create_random_user(session)
    user.stripe_customer_id = "cus_grace"
    session.add(user)
    session.commit()
    sub = {"id": "sub_grace", "object": "subscription", "customer": "cus_grace", "status": "active"}
    client_post("evt_g1", "customer.subscription.created", sub)
    assert client_post("evt_g2", "customer.subscription.updated", {**sub, "status": "past_due"}).json()["result"] \
        == "past_due"
    client_post("evt_g3", "invoice.payment_failed", {"id": "in_g", "customer": "cus_grace",
                                                     "subscription": "sub_grace"})
    session.expire_all()
    status = entitlements.account_status(session, user=session.get(User, user.id))
    assert status.state == entitlements.BillingState.PAST_DUE
    assert session.get(User, user.id).plan == "premium"
    mails = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "payment_failed")).all()
    assert len(mails) == 1 and "/account" in mails[0].body  # one mail per failed spell, not per event

    # Eight days later the hourly maintenance ends the grace: free, and the retention clock starts at its end.
    later = utcnow() + timedelta(days=8)
    ended = entitlements.expire_grace(session, now=later)
    session.commit()
    session.expire_all()
    row = session.exec(select(Subscription)).one()
    assert [s.stripe_subscription_id for s, _ in ended] == ["sub_grace"]
    assert row.ended_at == row.past_due_since + timedelta(days=7)
    assert session.get(User, user.id).plan == "free"
    status = entitlements.account_status(session, user=session.get(User, user.id), now=later)
    assert status.state == entitlements.BillingState.ENDED and status.kept_until == row.ended_at + timedelta(days=30)

    # The card is fixed: paid again, premium again.
    client_post("evt_g4", "customer.subscription.updated", {**sub, "status": "active"})
    session.expire_all()
    assert session.get(User, user.id).plan == "premium"
    assert session.exec(select(Subscription)).one().ended_at is None


def test_account_status_in_each_state(session, client_post):
    user = create_random_user(session)
    assert entitlements.account_status(session, user=user).state == entitlements.BillingState.FREE
    user.stripe_customer_id = "cus_st"
    session.add(user)
    session.commit()
    end = int((utcnow() + timedelta(days=20)).timestamp())
    sub = {"id": "sub_st", "object": "subscription", "customer": "cus_st", "status": "active",
           "items": {"data": [{"current_period_end": end, "price": {"id": "price_p"}}]}}
    client_post("evt_s1", "customer.subscription.created", sub)
    session.expire_all()
    status = entitlements.account_status(session, user=session.get(User, user.id))
    assert status.state == entitlements.BillingState.PREMIUM and status.renews_on.timestamp() == end
    assert status.subscription.stripe_price_id == "price_p"
    client_post("evt_s2", "customer.subscription.updated", {**sub, "cancel_at_period_end": True})
    session.expire_all()
    status = entitlements.account_status(session, user=session.get(User, user.id))
    assert status.renews_on is None and status.ends_on.timestamp() == end
    client_post("evt_s3", "customer.subscription.deleted", {**sub, "status": "canceled"})
    session.expire_all()
    status = entitlements.account_status(session, user=session.get(User, user.id))
    assert status.state == entitlements.BillingState.ENDED and status.ended_on is not None
