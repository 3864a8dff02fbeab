"""The Stripe webhook under attack and under Stripe's own delivery rules (issue: trust).

Webhooks are signed the way Stripe signs them (``t=...,v1=HMAC-SHA256(secret, f"{t}.{payload}")``).
Races and body limits go over HTTP to the real web process (``web_server``); the rest through the
real routes in-process, on SQLite and PostgreSQL. Stripe's API is a local stub that records requests.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.billing import client as billing_client
from core.config import reset_settings
from core.db import get_session, reset_engines
from core.models import AuditLog, InvoiceRecord, Subscription, User, WebhookEvent
from core.routes import ROUTES
from tests.conftest import _apply_env, free_port
from tests.utils.builders import create_random_user
from tests.utils.stripe_stub import StripeStub

SECRET = "whsec_security_tests_0123456789abcdef"
WEBHOOK = "/webhooks/stripe"
DELIVERIES = 8  # concurrent deliveries of one event, as the review sent them


def sign(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(event_id: str, kind: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": kind, "created": created or int(time.time()),
            "data": {"object": obj}}


def subscription(sub_id: str, customer: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"id": sub_id, "object": "subscription", "customer": customer, "status": status, **extra}


def signed_headers(body: bytes, **sign_kw: Any) -> dict[str, str]:
    return {"Stripe-Signature": sign(body, **sign_kw), "Content-Type": "application/json"}


def fresh(session: Session, model: Any, ident: Any) -> Any:
    session.expire_all()
    return session.get(model, ident)


def audits(session: Session, action: str) -> list[AuditLog]:
    session.expire_all()
    return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 60) -> tuple[int, dict[str, Any]]:
    """POST over a real socket (no client library buffering or retries)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, {"raw": data.decode(errors="replace")}


@pytest.fixture
def configured(db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A configured webhook secret; Stripe's API is not set up (the default)."""
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    for name in ("STRIPE_API_BASE", "STRIPE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    billing_client.reset_client()
    return db


@pytest.fixture
def client(configured: str) -> TestClient:
    return TestClient(Starlette(routes=ROUTES), raise_server_exceptions=False)


def post(client: TestClient, payload: dict[str, Any] | bytes, **sign_kw: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(WEBHOOK, content=body, headers=signed_headers(body, **sign_kw))


@dataclass
class Stripe:
    """How Stripe's API answers in a test: the stub (``api``), not set up, or set up but unreachable."""

    mode: str
    stub: StripeStub | None

    def now(self, sub_id: str, *, customer: str, status: str, **extra: Any) -> None:
        """What Stripe's API holds for this subscription from now on (ignored where it cannot be asked)."""
        if self.stub is not None:
            self.stub.set_subscription(sub_id, customer=customer, status=status, **extra)


@pytest.fixture(params=["api", "unconfigured", "unreachable"])
def stripe(request: pytest.FixtureRequest, configured: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stripe]:
    stub = None
    if request.param == "api":
        stub = StripeStub().start()
        monkeypatch.setenv("STRIPE_API_BASE", stub.url)
        monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_stubbed_key_123")
    elif request.param == "unreachable":
        monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")  # nothing listens there
        monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_stubbed_key_123")
    reset_settings()
    billing_client.reset_client()
    yield Stripe(request.param, stub)
    if stub is not None:
        stub.stop()
    billing_client.reset_client()


# --- 1. concurrent deliveries of one event -------------------------------------------------------


def test_concurrent_deliveries_of_one_event_are_applied_once(db, session, web_server):
    server = web_server(DATABASE_URL=os.environ["DATABASE_URL"], STRIPE_WEBHOOK_SECRET=SECRET)
    user = create_random_user(session)
    now = int(time.time())
    events = [
        event("evt_race_checkout", "checkout.session.completed", {
            "id": "cs_race", "object": "checkout.session", "client_reference_id": str(user.id),
            "customer": "cus_race", "subscription": "sub_race"}, created=now - 30),
        event("evt_race_invoice", "invoice.paid", {
            "id": "in_race", "object": "invoice", "customer": "cus_race", "amount_paid": 900, "currency": "eur"},
            created=now - 20),
        event("evt_race_deleted", "customer.subscription.deleted",
              subscription("sub_race", "cus_race", "canceled", ended_at=now - 10), created=now - 10),
    ]
    for ev in events:
        body = json.dumps(ev).encode()
        headers = signed_headers(body)
        start = threading.Barrier(DELIVERIES)

        def deliver(_: int, body: bytes = body, headers: dict[str, str] = headers,
                    start: threading.Barrier = start) -> tuple[int, dict[str, Any]]:
            start.wait()
            return http_post(server.url + WEBHOOK, body, headers)

        with ThreadPoolExecutor(DELIVERIES) as pool:
            answers = list(pool.map(deliver, range(DELIVERIES)))
        assert [status for status, _ in answers] == [200] * DELIVERIES, answers
        results = sorted(answer["result"] for _, answer in answers)
        assert results.count("duplicate") == DELIVERIES - 1, answers

    session.expire_all()
    assert len(session.exec(select(WebhookEvent)).all()) == 3
    assert len(session.exec(select(Subscription)).all()) == 1
    assert len(session.exec(select(InvoiceRecord)).all()) == 1
    assert fresh(session, User, user.id).plan == "free"
    assert [a.details["plan"] for a in audits(session, "billing.plan_changed")] == ["premium", "free"]


# --- 2. no webhook secret, no billing ---------------------------------------------------------------


@pytest.fixture
def server_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point this test process at a web server's own database, to create and check rows there."""
    def use(server: Any) -> None:
        _apply_env(monkeypatch, DATABASE_URL=server.env["DATABASE_URL"], DATA_DIR=server.env["DATA_DIR"])

    yield use
    reset_engines()


def test_default_configuration_refuses_events_signed_with_the_placeholder_secret(web_server, monkeypatch,
                                                                                   server_database):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    server = web_server()  # the default configuration: STRIPE_WEBHOOK_SECRET is the public placeholder
    server_database(server)
    with get_session() as session:
        user = create_random_user(session)
    body = json.dumps(event("evt_placeholder", "checkout.session.completed", {
        "id": "cs_p", "client_reference_id": str(user.id), "customer": "cus_p", "subscription": "sub_p"})).encode()
    status, answer = http_post(server.url + WEBHOOK, body, signed_headers(body, secret="whsec_placeholder"))
    assert status == 503 and "billing is not configured" in answer["error"].lower()
    with get_session() as session:
        assert session.get(User, user.id).plan == "free"
        assert session.exec(select(WebhookEvent)).all() == []
    assert "billing is not configured" in server.log.read_text().lower()


@pytest.mark.parametrize("secret", ["", "whsec_placeholder", "changethis", "whsec_placeholder_for_docs"])
def test_placeholder_or_missing_secrets_count_as_not_configured(db, session, monkeypatch, caplog, secret):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", secret)
    reset_settings()
    client = TestClient(Starlette(routes=ROUTES), raise_server_exceptions=False)
    user = create_random_user(session)
    with caplog.at_level(logging.WARNING):
        r = post(client, event("evt_p", "checkout.session.completed", {
            "client_reference_id": str(user.id), "customer": "cus_p", "subscription": "sub_p"}), secret=secret)
    assert r.status_code == 503 and "billing is not configured" in r.json()["error"].lower()
    assert "billing is not configured" in caplog.text.lower()
    assert fresh(session, User, user.id).plan == "free"


# --- 3. late, repeated and out-of-order events --------------------------------------------------


def test_deleted_then_an_older_created_leaves_the_subscription_ended(client, session, stripe, caplog):
    user = create_random_user(session)
    now = int(time.time())
    meta = {"metadata": {"user_id": str(user.id)}}
    stripe.now("sub_o1", customer="cus_o1", status="canceled", ended_at=now - 10)
    deleted = event("evt_o1_deleted", "customer.subscription.deleted",
                    subscription("sub_o1", "cus_o1", "canceled", ended_at=now - 10, **meta), created=now - 10)
    created = event("evt_o1_created", "customer.subscription.created",
                    subscription("sub_o1", "cus_o1", "active", current_period_end=now + 86400, **meta),
                    created=now - 100)
    with caplog.at_level(logging.WARNING):
        assert post(client, deleted).status_code == 200
        r = post(client, created)
    assert r.status_code == 200, r.text
    session.expire_all()
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == "sub_o1")).one()
    assert (sub.status, sub.user_id) == ("canceled", user.id) and sub.ended_at is not None
    assert fresh(session, User, user.id).plan == "free"
    if stripe.mode == "api":
        assert ("GET", "/v1/subscriptions/sub_o1") in [(m, p.split("?")[0]) for m, p in stripe.stub.requests]
    if stripe.mode == "unreachable":
        assert "could not be fetched" in caplog.text


def test_a_stale_update_after_deleted_does_not_reactivate(client, session, stripe):
    user = create_random_user(session)
    now = int(time.time())
    meta = {"metadata": {"user_id": str(user.id)}}
    stripe.now("sub_o2", customer="cus_o2", status="active")
    r = post(client, event("evt_o2_created", "customer.subscription.created",
                           subscription("sub_o2", "cus_o2", "active", **meta), created=now - 300))
    assert r.json()["result"] == "active"
    assert fresh(session, User, user.id).plan == "premium"

    stripe.now("sub_o2", customer="cus_o2", status="canceled", ended_at=now - 10)
    r = post(client, event("evt_o2_deleted", "customer.subscription.deleted",
                           subscription("sub_o2", "cus_o2", "canceled", ended_at=now - 10, **meta), created=now - 10))
    assert r.json()["result"] == "canceled"
    # An update Stripe sent before the deletion arrives last (its `created` is older).
    r = post(client, event("evt_o2_updated", "customer.subscription.updated",
                           subscription("sub_o2", "cus_o2", "active", **meta), created=now - 100))
    assert r.status_code == 200, r.text
    session.expire_all()
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == "sub_o2")).one()
    assert sub.status == "canceled" and sub.ended_at is not None
    assert fresh(session, User, user.id).plan == "free"


def test_duplicate_deliveries_change_nothing(client, session, stripe):
    user = create_random_user(session)
    now = int(time.time())
    meta = {"metadata": {"user_id": str(user.id)}}
    stripe.now("sub_o3", customer="cus_o3", status="canceled", ended_at=now - 10)
    created = event("evt_o3_created", "customer.subscription.created",
                    subscription("sub_o3", "cus_o3", "active", **meta), created=now - 300)
    deleted = event("evt_o3_deleted", "customer.subscription.deleted",
                    subscription("sub_o3", "cus_o3", "canceled", ended_at=now - 10, **meta), created=now - 10)
    # Stripe delivers the deletion twice and the creation late and twice.
    results = [post(client, ev).json()["result"] for ev in (deleted, deleted, created, created, deleted)]
    assert results[1] == "duplicate" and results[3:] == ["duplicate", "duplicate"]
    assert results[2] in ("stale", "canceled")  # applied as stale, or as Stripe's current state
    session.expire_all()
    sub = session.exec(select(Subscription).where(Subscription.stripe_subscription_id == "sub_o3")).one()
    assert sub.status == "canceled"
    assert fresh(session, User, user.id).plan == "free"
    assert audits(session, "billing.plan_changed") == []  # never premium, not even for a moment
    assert len(session.exec(select(WebhookEvent)).all()) == 2


# --- 4. signed but malformed payloads, and signature times ------------------------------------------


def _long_id() -> bytes:
    return json.dumps(event("evt_" + "x" * 5000, "customer.subscription.updated",
                            subscription("sub_m", "cus_m", "active"))).encode()


MALFORMED: dict[str, bytes] = {
    "array": b"[1, 2, 3]",
    "null": b"null",
    "string": b'"evt_1"',
    "not_json": b"{not json",
    "not_utf8": b'{"id": "evt_\xff"}',
    "event_without_id": json.dumps({"type": "customer.subscription.updated",
                                    "data": {"object": subscription("sub_m", "cus_m", "active")}}).encode(),
    "object_without_id": json.dumps(event("evt_m_noid", "customer.subscription.updated",
                                          {"object": "subscription", "customer": "cus_m",
                                           "status": "active"})).encode(),
    "data_not_an_object": json.dumps({"id": "evt_m_data", "type": "customer.subscription.updated",
                                      "data": ["x"]}).encode(),
    "period_end_not_a_number": json.dumps(event("evt_m_period", "customer.subscription.updated",
                                                subscription("sub_m", "cus_m", "active",
                                                             current_period_end="next month"))).encode(),
    "period_end_out_of_range": json.dumps(event("evt_m_range", "customer.subscription.updated",
                                                subscription("sub_m", "cus_m", "active",
                                                             current_period_end=10**20))).encode(),
    "long_event_id": _long_id(),
    "long_subscription_id": json.dumps(event("evt_m_subid", "customer.subscription.updated",
                                             subscription("sub_" + "y" * 5000, "cus_m", "active"))).encode(),
    "amount_not_a_number": json.dumps(event("evt_m_amount", "invoice.paid", {
        "id": "in_m", "customer": "cus_m", "amount_paid": "lots"})).encode(),
    # Values no column can hold: more cents than a bigint counts, a NUL (PostgreSQL's text refuses it),
    # a lone surrogate (no encoding can store it), control characters in what an operator later reads.
    "amount_beyond_bigint": json.dumps(event("evt_m_huge", "invoice.paid", {
        "id": "in_m", "customer": "cus_m", "amount_paid": 2**63})).encode(),
    "nul_in_event_id": json.dumps(event("evt_m_\x00", "customer.subscription.updated",
                                        subscription("sub_m", "cus_m", "active"))).encode(),
    "nul_in_subscription_id": json.dumps(event("evt_m_nulsub", "customer.subscription.updated",
                                               subscription("sub_m\x00", "cus_m", "active"))).encode(),
    "nul_in_invoice_id": json.dumps(event("evt_m_nulin", "invoice.paid", {
        "id": "in_m\x00", "customer": "cus_m", "amount_paid": 900})).encode(),
    "surrogate_in_customer": json.dumps(event("evt_m_surrogate", "customer.subscription.updated",
                                              subscription("sub_m", "cus_m\ud800", "active"))).encode(),
    "line_break_in_status": json.dumps(event("evt_m_status", "customer.subscription.updated",
                                             subscription("sub_m", "cus_m", "active\r\nX"))).encode(),
    "nul_in_currency": json.dumps(event("evt_m_cur", "invoice.paid", {
        "id": "in_m", "customer": "cus_m", "amount_paid": 900, "currency": "eu\x00"})).encode(),
    "nul_in_event_type": json.dumps(event("evt_m_type", "customer.\x00", {"id": "cus_m"})).encode(),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_signed_malformed_payloads_get_a_4xx_with_a_recorded_reason(client, session, caplog, case):
    user = create_random_user(session)
    user.stripe_customer_id = "cus_m"
    session.add(user)
    session.commit()
    with caplog.at_level(logging.WARNING):
        r = post(client, MALFORMED[case])
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:500])
    answer = r.json()
    assert answer["error"] and answer["reason"]
    rows = audits(session, "billing.webhook_rejected")
    assert [row.details["reason"] for row in rows] == [answer["reason"]]
    assert answer["reason"] in caplog.text
    assert session.exec(select(WebhookEvent)).all() == []
    assert session.exec(select(Subscription)).all() == []
    assert fresh(session, User, user.id).plan == "free"


@pytest.mark.parametrize(("offset", "accepted"), [(-3600, False), (3600, False), (301 + 60, False),
                                                  (-60, True), (60, True)])
def test_signature_timestamps_outside_five_minutes_either_way_are_refused(client, session, offset, accepted):
    user = create_random_user(session)
    r = post(client, event(f"evt_t{offset}", "checkout.session.completed", {
        "client_reference_id": str(user.id), "customer": "cus_t", "subscription": "sub_t"}),
        timestamp=int(time.time()) + offset)
    if accepted:
        assert r.status_code == 200 and r.json()["result"] == "subscribed"
    else:
        assert r.status_code == 400 and "signature" in r.json()["error"]
        assert fresh(session, User, user.id).plan == "free"
        assert session.exec(select(WebhookEvent)).all() == []


def test_an_amount_over_two_to_the_31_is_recorded_exactly(client, session):
    """Money is bigint: an invoice of 2^31 cents (21 million euro) is bookkeeping, not a 500."""
    user = create_random_user(session)
    user.stripe_customer_id = "cus_big"
    session.add(user)
    session.commit()
    r = post(client, event("evt_big_invoice", "invoice.paid", {
        "id": "in_big", "customer": "cus_big", "amount_paid": 2**31, "currency": "eur"}))
    assert r.status_code == 200 and r.json()["result"] == "recorded", r.text
    session.expire_all()
    assert session.exec(select(InvoiceRecord.amount_cents)).one() == 2**31


@pytest.mark.parametrize("reference", ["\u00b2", "99999999999999999999", 2**70, -5])
def test_an_account_reference_no_id_can_be_is_no_account(client, session, reference):
    """client_reference_id is a hint: one that cannot be a row id (another script's digit, too big) names nobody."""
    r = post(client, event("evt_ref", "checkout.session.completed", {
        "id": "cs_ref", "client_reference_id": reference, "customer": "cus_ref", "subscription": "sub_ref"}))
    assert r.status_code == 200 and r.json()["result"] == "unknown_user", r.text
    assert session.exec(select(Subscription)).all() == []


def test_a_signature_header_with_digits_of_other_scripts_is_a_400(web_server):
    """int() reads "\u00b9\u00b2\u00b3" or "1_000"; Stripe's timestamp is ASCII digits only.

    Sent over a real socket: header bytes arrive as Latin-1 (0xB2 is "\u00b2"), as an attacker sends them."""
    server = web_server(STRIPE_WEBHOOK_SECRET=SECRET)
    for header in ("t=\u00b2,v1=00", "t=\u00b9\u00b2\u00b3,v1=00", "t=1_000,v1=00", "t=+5,v1=00"):
        status, answer = http_post(server.url + WEBHOOK, b"{}", {"Stripe-Signature": header,
                                                                 "Content-Type": "application/json"})
        assert (status, answer.get("reason")) == (400, "bad_signature_header"), (header, status, answer)
    assert "Traceback" not in server.log.read_text()


# --- 5. account binding ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["subscription_metadata", "checkout_reference", "customer_of_someone_else"])
def test_a_subscription_cannot_be_bound_to_an_account_with_another_customer(client, session, caplog, how):
    victim = create_random_user(session)
    victim.stripe_customer_id = "cus_victim"
    other = create_random_user(session)
    other.stripe_customer_id = "cus_other"
    session.add_all([victim, other])
    session.commit()
    customer = "cus_other" if how == "customer_of_someone_else" else "cus_stranger"
    if how == "checkout_reference":
        ev = event("evt_bind", "checkout.session.completed", {
            "id": "cs_bind", "client_reference_id": str(victim.id), "customer": customer, "subscription": "sub_bind"})
    else:
        ev = event("evt_bind", "customer.subscription.created",
                   subscription("sub_bind", customer, "active", metadata={"user_id": str(victim.id)}))
    with caplog.at_level(logging.WARNING):
        r = post(client, ev)
    assert r.status_code == 200 and r.json()["result"] == "ignored", r.text
    assert r.json()["reason"] == "customer_mismatch"
    session.expire_all()
    victim_now, other_now = session.get(User, victim.id), session.get(User, other.id)
    assert (victim_now.plan, victim_now.stripe_customer_id) == ("free", "cus_victim")
    assert (other_now.plan, other_now.stripe_customer_id) == ("free", "cus_other")
    assert session.exec(select(Subscription)).all() == []
    assert [a.user_id for a in audits(session, "billing.customer_mismatch")] == [victim.id]
    assert "customer_mismatch" in caplog.text


def test_a_first_checkout_binds_the_customer_to_the_account(client, session):
    user = create_random_user(session)
    r = post(client, event("evt_first", "checkout.session.completed", {
        "id": "cs_first", "client_reference_id": str(user.id), "customer": "cus_first", "subscription": "sub_first"}))
    assert r.status_code == 200 and r.json()["result"] == "subscribed"
    user = fresh(session, User, user.id)
    assert (user.plan, user.stripe_customer_id) == ("premium", "cus_first")


# --- 6. body size ----------------------------------------------------------------------------------


def test_bodies_over_one_megabyte_get_413_without_being_read(web_server):
    server = web_server(STRIPE_WEBHOOK_SECRET=SECRET)
    parts = urllib.parse.urlsplit(server.url)
    big = 2 * 1024 * 1024

    def chunks() -> Iterator[bytes]:
        for _ in range(big // 65536):
            yield b"x" * 65536

    for chunked in (False, True):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        headers = {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"}
        if chunked:
            conn.request("POST", WEBHOOK, body=chunks(), headers=headers, encode_chunked=True)
        else:
            conn.request("POST", WEBHOOK, body=chunks(), headers={**headers, "Content-Length": str(big)})
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        conn.close()
        assert resp.status == 413, (chunked, answer)
        assert answer["reason"] == "request_too_large"
    assert server.log.read_text().count("request_too_large") == 2
    # The server still serves normal deliveries.
    body = json.dumps(event("evt_small", "customer.created", {"id": "cus_small"})).encode()
    assert http_post(server.url + WEBHOOK, body, signed_headers(body)) == (
        200, {"id": "evt_small", "type": "customer.created", "result": "ignored"})
