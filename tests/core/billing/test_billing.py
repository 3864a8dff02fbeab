"""The Stripe webhook over the real ASGI routes: signed like Stripe signs, replays ignored, bad signatures refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.config import reset_settings
from core.models import InvoiceRecord, Subscription, User, WebhookEvent
from core.routes import ROUTES
from tests.utils.builders import create_random_user

SECRET = "whsec_test_secret_for_webhooks"


@pytest.fixture
def client(db, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    reset_settings()
    return TestClient(Starlette(routes=ROUTES))


def sign(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post(client, event: dict, **sign_kw):
    body = json.dumps(event).encode()
    return client.post("/webhooks/stripe", content=body,
                       headers={"Stripe-Signature": sign(body, **sign_kw), "Content-Type": "application/json"})


def event(event_id: str, kind: str, obj: dict) -> dict:
    return {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}


def test_checkout_subscription_lifecycle_and_invoices(client, session):
    user = create_random_user(session)
    checkout = event("evt_1", "checkout.session.completed", {
        "id": "cs_1", "object": "checkout.session", "client_reference_id": str(user.id),
        "customer": "cus_A", "subscription": "sub_A"})
    r = post(client, checkout)
    assert r.status_code == 200 and r.json()["result"] == "subscribed"
    session.expire_all()
    user = session.get(User, user.id)
    assert (user.plan, user.stripe_customer_id) == ("premium", "cus_A")
    sub = session.exec(select(Subscription).where(Subscription.user_id == user.id)).one()
    assert (sub.stripe_subscription_id, sub.status, sub.ended_at) == ("sub_A", "active", None)

    # A replay (Stripe retries, or an attacker resends a captured request) does nothing twice.
    r = post(client, checkout)
    assert r.status_code == 200 and r.json()["result"] == "duplicate"
    assert len(session.exec(select(Subscription)).all()) == 1

    period_end = int(time.time()) + 30 * 86400
    r = post(client, event("evt_2", "customer.subscription.updated", {
        "id": "sub_A", "object": "subscription", "customer": "cus_A", "status": "past_due",
        "items": {"data": [{"current_period_end": period_end}]}}))
    assert r.json()["result"] == "past_due"
    session.expire_all()
    assert session.get(User, user.id).plan == "premium"  # still premium while Stripe retries the payment

    for i in range(2):
        r = post(client, event("evt_3", "invoice.paid", {
            "id": "in_1", "object": "invoice", "customer": "cus_A", "amount_paid": 900, "currency": "eur"}))
        assert r.json()["result"] == ("recorded" if i == 0 else "duplicate")
    invoice = session.exec(select(InvoiceRecord)).one()
    assert (invoice.user_id, invoice.amount_cents, invoice.currency) == (user.id, 900, "eur")

    ended = int(time.time()) - 60
    r = post(client, event("evt_4", "customer.subscription.deleted", {
        "id": "sub_A", "object": "subscription", "customer": "cus_A", "status": "canceled", "ended_at": ended}))
    assert r.json()["result"] == "canceled"
    session.expire_all()
    sub = session.exec(select(Subscription).where(Subscription.user_id == user.id)).one()
    assert session.get(User, user.id).plan == "free"
    assert sub.status == "canceled" and int(sub.ended_at.timestamp()) == ended
    assert sub.current_period_end is not None and int(sub.current_period_end.timestamp()) == period_end
    assert len(session.exec(select(WebhookEvent)).all()) == 4


@pytest.mark.parametrize("how", ["wrong_secret", "tampered", "old", "missing"])
def test_bad_signatures_are_refused(client, session, how):
    user = create_random_user(session)
    body = json.dumps(event("evt_bad", "checkout.session.completed", {
        "client_reference_id": str(user.id), "customer": "cus_X", "subscription": "sub_X"})).encode()
    headers = {"Stripe-Signature": sign(body)}
    if how == "wrong_secret":
        headers["Stripe-Signature"] = sign(body, secret="whsec_someone_else")
    elif how == "tampered":
        body = body.replace(b"cus_X", b"cus_Y")
    elif how == "old":
        headers["Stripe-Signature"] = sign(body, timestamp=int(time.time()) - 3600)
    else:
        headers = {}
    r = client.post("/webhooks/stripe", content=body, headers=headers)
    assert r.status_code == 400 and "signature" in r.json()["error"]
    session.expire_all()
    assert session.get(User, user.id).plan == "free"
    assert session.exec(select(WebhookEvent)).all() == []


def test_unknown_events_are_acknowledged_and_ignored(client, session):
    r = post(client, event("evt_x", "customer.created", {"id": "cus_Z"}))
    assert r.status_code == 200 and r.json()["result"] == "ignored"
