"""Signed, expiring tokens for links (file downloads, password resets, email changes).

A token is ``base64url(json payload).base64url(hmac-sha256)``; the payload
carries its expiry, so nothing needs storing to check one. Tampering or age
makes ``unsign`` raise TokenInvalid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from core.config import secret_key
from core.errors import TokenInvalid


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(body: str, purpose: str) -> str:
    key = hashlib.sha256(f"{purpose}:{secret_key()}".encode()).digest()
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def sign(payload: dict[str, Any], *, purpose: str, ttl_seconds: float) -> str:
    body = _b64(json.dumps({**payload, "exp": time.time() + ttl_seconds}, separators=(",", ":")).encode())
    return f"{body}.{_mac(body, purpose)}"


def unsign(token: str, *, purpose: str) -> dict[str, Any]:
    try:
        body, mac = token.split(".", 1)
    except ValueError:
        raise TokenInvalid() from None
    # compare_digest: a byte-by-byte compare would leak how much of a forged MAC is right.
    if not hmac.compare_digest(mac, _mac(body, purpose)):
        raise TokenInvalid()
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, json.JSONDecodeError):
        raise TokenInvalid() from None
    if not isinstance(payload, dict) or payload.get("exp", 0) < time.time():
        raise TokenInvalid()
    return payload
