"""The webhook route in-process, signed the way Stripe signs (the e2e and security tests use the real web process)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.config import reset_settings
from core.routes import ROUTES

SECRET = "whsec_billing_tests_0123456789abcdef"


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


@pytest.fixture
def client_post(db: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``client_post(event_id, type, object)``: a signed event POSTed to /webhooks/stripe; returns the response."""
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    reset_settings()
    client = TestClient(Starlette(routes=ROUTES), raise_server_exceptions=False)

    def post(event_id: str, kind: str, obj: dict[str, Any], *, created: int | None = None) -> Any:
        body = json.dumps({"id": event_id, "object": "event", "type": kind, "created": created or int(time.time()),
                           "data": {"object": obj}}).encode()
        return client.post("/webhooks/stripe", content=body, headers=signed(body))

    return post
