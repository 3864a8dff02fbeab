"""A local HTTP server standing in for api.stripe.com: it records every request and never reaches the network.

Point the code at it with ``STRIPE_API_BASE=stub.url`` (and any ``STRIPE_SECRET_KEY``). It answers
the calls Vorm makes: ``GET /v1/subscriptions/<id>`` from ``subscriptions`` (the state Stripe holds
now, which a test sets), and ``DELETE /v1/customers/<id>``. Anything else is a 404 like Stripe's.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class StripeStub:
    url: str = ""
    #: (method, path) of every request received, in order.
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: Subscription id -> the subscription object Stripe would return now.
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Customers deleted so far (a second delete is Stripe's 404 resource_missing).
    deleted: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    def set_subscription(self, sub_id: str, *, customer: str, status: str, created: int = 0,
                         current_period_end: int | None = None, ended_at: int | None = None,
                         **extra: Any) -> None:
        self.subscriptions[sub_id] = {
            "id": sub_id, "object": "subscription", "customer": customer, "status": status, "created": created,
            "current_period_end": current_period_end, "ended_at": ended_at, **extra}

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

            def _missing(self, what: str, ident: str) -> None:
                self._send(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                           "message": f"No such {what}: '{ident}'"}})

            def do_GET(self) -> None:  # noqa: N802
                stub.requests.append(("GET", self.path))
                path = self.path.split("?", 1)[0]
                ident = path.rsplit("/", 1)[-1]
                if path.startswith("/v1/subscriptions/") and ident in stub.subscriptions:
                    self._send(200, stub.subscriptions[ident])
                else:
                    self._missing("subscription", ident)

            def do_DELETE(self) -> None:  # noqa: N802
                stub.requests.append(("DELETE", self.path))
                ident = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/v1/customers/") and ident not in stub.deleted:
                    stub.deleted.add(ident)
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
