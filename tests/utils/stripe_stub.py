"""A local HTTP server standing in for api.stripe.com: it records every request and never reaches the network.

Point the code at it with ``STRIPE_API_BASE=stub.url`` (and any ``STRIPE_SECRET_KEY``). It answers
the calls Vorm makes, with Stripe's shapes:

- ``POST /v1/customers`` (an ``Idempotency-Key`` repeats the first answer, as Stripe does),
  ``GET /v1/customers/<id>``, ``DELETE /v1/customers/<id>``;
- ``POST /v1/checkout/sessions``: an open session whose ``url`` is this stub's own ``/checkout/<id>``
  page, so a browser can land there; ``complete_checkout`` then plays the customer paying;
- ``POST /v1/billing_portal/sessions``: a session whose ``url`` is the stub's ``/portal/<id>`` page;
- ``GET /v1/subscriptions/<id>`` and ``GET /v1/subscriptions?customer=...&status=all`` from
  ``subscriptions`` (the state Stripe holds now, which a test sets); a deleted customer's list is
  Stripe's 404, and ``expand[]=latest_invoice`` (``data.latest_invoice`` on a list) puts the invoice
  of that id from ``invoices`` in its place, as Stripe expands it.
- ``GET /v1/prices/<id>`` from ``prices`` (``set_price``).

Anything else is a 404 like Stripe's. ``requests`` lists (method, path) of every request and
``posted`` the form parameters of every POST, so tests can check what was asked.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _form(body: bytes) -> dict[str, str]:
    """Stripe's form encoding (``metadata[user_id]=7``), flat: the keys as sent."""
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}


@dataclass
class StripeStub:
    url: str = ""
    #: (method, path) of every request received, in order.
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: (path, form parameters) of every POST, in order.
    posted: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: Subscription id -> the subscription object Stripe would return now.
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Invoice id -> the invoice object (what ``latest_invoice`` expands to).
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Customer id -> the customer object.
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Price id -> the Price object.
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Checkout Session id -> the session object.
    checkout_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Billing Portal session id -> the session object.
    portal_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Customers deleted so far (a second delete is Stripe's 404 resource_missing).
    deleted: set[str] = field(default_factory=set)
    #: Seconds every /v1 answer waits (a slow Stripe).
    delay_seconds: float = 0.0
    #: Paths (prefixes) answered with Stripe's 500 api_error (Stripe failing on its side).
    failing: set[str] = field(default_factory=set)
    _idempotent: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def set_subscription(self, sub_id: str, *, customer: str, status: str, created: int = 0,
                         current_period_end: int | None = None, ended_at: int | None = None,
                         **extra: Any) -> None:
        self.subscriptions[sub_id] = {
            "id": sub_id, "object": "subscription", "customer": customer, "status": status, "created": created,
            "current_period_end": current_period_end, "ended_at": ended_at, **extra}

    def set_price(self, price_id: str, *, unit_amount: int, currency: str = "eur", interval: str = "month",
                  interval_count: int = 1) -> None:
        self.prices[price_id] = {
            "id": price_id, "object": "price", "active": True, "billing_scheme": "per_unit", "currency": currency,
            "unit_amount": unit_amount, "unit_amount_decimal": str(unit_amount), "type": "recurring",
            "recurring": {"interval": interval, "interval_count": interval_count, "usage_type": "licensed"}}

    def complete_checkout(self, session_id: str, *, subscription_id: str | None = None,
                          period_days: int = 30) -> dict[str, Any]:
        """The customer paid: the session completes and its subscription is active. Returns the session
        object as a ``checkout.session.completed`` event carries it."""
        with self._lock:
            cs = self.checkout_sessions[session_id]
            sub_id = subscription_id or f"sub_stub_{next(self._ids)}"
        now = int(time.time())
        self.set_subscription(sub_id, customer=cs["customer"], status="active", created=now,
                              current_period_end=now + period_days * 86400,
                              items={"object": "list", "data": [{"price": {"id": cs["price"]},
                                                                 "current_period_end": now + period_days * 86400}]},
                              metadata={"user_id": cs["client_reference_id"]})
        cs.update(status="complete", payment_status="paid", subscription=sub_id)
        return dict(cs)

    def cancel(self, sub_id: str) -> dict[str, Any]:
        """The subscription ends now (cancelled in the portal, or unpaid), as Stripe would hold it."""
        sub = self.subscriptions[sub_id]
        sub.update(status="canceled", ended_at=int(time.time()), canceled_at=int(time.time()))
        return dict(sub)

    def _expanded(self, sub: dict[str, Any], expand: bool) -> dict[str, Any]:
        invoice = sub.get("latest_invoice")
        if expand and isinstance(invoice, str) and invoice in self.invoices:
            return {**sub, "latest_invoice": self.invoices[invoice]}
        return sub

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_stub_{next(self._ids)}"

    def start(self) -> StripeStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _page(self, title: str) -> None:
                data = f"<!doctype html><title>{title}</title><h1>{title}</h1>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _missing(self, what: str, ident: str) -> None:
                self._send(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                           "message": f"No such {what}: '{ident}'"}})

            def do_GET(self) -> None:  # noqa: N802
                stub.requests.append(("GET", self.path))
                parts = urllib.parse.urlsplit(self.path)
                path, query = parts.path, dict(urllib.parse.parse_qsl(parts.query))
                ident = path.rsplit("/", 1)[-1]
                if path.startswith("/checkout/") and ident in stub.checkout_sessions:
                    return self._page(f"Stripe Checkout (stub) {ident}")
                if path.startswith("/portal/") and ident in stub.portal_sessions:
                    return self._page(f"Stripe Billing Portal (stub) {ident}")
                if stub.delay_seconds:
                    time.sleep(stub.delay_seconds)
                if any(path.startswith(prefix) for prefix in stub.failing):
                    return self._send(500, {"error": {"type": "api_error", "message": "Something went wrong."}})
                expand = {v for k, v in urllib.parse.parse_qsl(parts.query) if k.startswith("expand")}
                if path == "/v1/subscriptions":
                    if query.get("customer") in stub.deleted:
                        return self._missing("customer", query["customer"])
                    # Stripe: no status lists all but canceled ones; "all" lists every one.
                    wanted = query.get("status", "")
                    data = [stub._expanded(s, "data.latest_invoice" in expand) for s in stub.subscriptions.values()
                            if s["customer"] == query.get("customer") and (
                                wanted == "all" or s["status"] == wanted or (not wanted and s["status"] != "canceled"))]
                    return self._send(200, {"object": "list", "url": path, "has_more": False, "data": data})
                if path.startswith("/v1/subscriptions/") and ident in stub.subscriptions:
                    return self._send(200, stub._expanded(stub.subscriptions[ident], "latest_invoice" in expand))
                if path.startswith("/v1/customers/"):
                    if ident in stub.deleted:
                        return self._send(200, {"id": ident, "object": "customer", "deleted": True})
                    if ident in stub.customers:
                        return self._send(200, stub.customers[ident])
                    return self._missing("customer", ident)
                if path.startswith("/v1/checkout/sessions/") and ident in stub.checkout_sessions:
                    return self._send(200, stub.checkout_sessions[ident])
                if path.startswith("/v1/prices/"):
                    if ident in stub.prices:
                        return self._send(200, stub.prices[ident])
                    return self._missing("price", ident)
                self._missing("subscription" if "subscriptions" in path else "object", ident)

            def do_POST(self) -> None:  # noqa: N802
                stub.requests.append(("POST", self.path))
                length = int(self.headers.get("Content-Length") or 0)
                params = _form(self.rfile.read(length)) if length else {}
                stub.posted.append((self.path, params))
                if stub.delay_seconds:
                    time.sleep(stub.delay_seconds)
                if any(self.path.startswith(prefix) for prefix in stub.failing):
                    return self._send(500, {"error": {"type": "api_error", "message": "Something went wrong."}})
                key = self.headers.get("Idempotency-Key")
                if key and f"{self.path} {key}" in stub._idempotent:
                    return self._send(*stub._idempotent[f"{self.path} {key}"])
                status, body = self._create(self.path.split("?", 1)[0], params)
                if key:
                    stub._idempotent[f"{self.path} {key}"] = (status, body)
                self._send(status, body)

            def _create(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
                now = int(time.time())
                if path == "/v1/customers":
                    cus = {"id": stub._new_id("cus"), "object": "customer", "email": params.get("email"),
                           "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")}}
                    stub.customers[cus["id"]] = cus
                    return 200, cus
                if path == "/v1/checkout/sessions":
                    if params.get("customer") and params["customer"] not in stub.customers:
                        return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                               "message": f"No such customer: '{params['customer']}'"}}
                    sid = stub._new_id("cs_test")
                    cs = {"id": sid, "object": "checkout.session", "mode": params.get("mode"),
                          "customer": params.get("customer"), "client_reference_id": params.get("client_reference_id"),
                          "price": params.get("line_items[0][price]"), "success_url": params.get("success_url"),
                          "cancel_url": params.get("cancel_url"), "status": "open", "payment_status": "unpaid",
                          "subscription": None, "created": now,
                          "expires_at": int(params.get("expires_at") or now + 86400),
                          "url": f"{stub.url}/checkout/{sid}"}
                    stub.checkout_sessions[sid] = cs
                    return 200, cs
                if path == "/v1/billing_portal/sessions":
                    if params.get("customer") not in stub.customers:
                        return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                               "message": f"No such customer: '{params.get('customer')}'"}}
                    pid = stub._new_id("bps")
                    portal = {"id": pid, "object": "billing_portal.session", "customer": params.get("customer"),
                              "return_url": params.get("return_url"), "created": now,
                              "url": f"{stub.url}/portal/{pid}"}
                    stub.portal_sessions[pid] = portal
                    return 200, portal
                return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}

            def do_DELETE(self) -> None:  # noqa: N802
                stub.requests.append(("DELETE", self.path))
                ident = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/v1/customers/") and ident not in stub.deleted:
                    stub.deleted.add(ident)
                    stub.customers.pop(ident, None)
                    self._send(200, {"id": ident, "object": "customer", "deleted": True})
                else:
                    self._missing("customer", ident)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
