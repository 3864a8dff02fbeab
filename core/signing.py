"""Signed, expiring tokens for links (file downloads, password resets, email changes).

A token is ``base64url(json payload).base64url(hmac-sha256)``; the payload
carries its expiry, so nothing needs storing to check one. Tampering or age
makes ``unsign`` raise TokenInvalid.

A valid MAC is not the only check: a payload with fields of the wrong type, or an
expiry further away than the longest lifetime we ever issue for its purpose, is
refused too, so that a leaked key or a signing bug cannot mint links that last for
ever or feed a list where a storage key belongs.

This is shared infrastructure, beside storage and mail: it imports no domain package. Each
lifetime lives with the domain that owns it (the session's with accounts, the data export's
with privacy) and the caller passes the longest one in as ``max_lifetime_seconds``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from typing import Any

from core.config import secret_key
from core.errors import TokenInvalid

#: Replicas' clocks may differ this much; an expiry that far past the longest lifetime still passes.
CLOCK_SKEW_SECONDS = 300

#: The fields each purpose's payload may carry, with their types ("exp" is checked for every purpose).
_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "file": {"k": str},
    "session": {"sid": str, "uid": int},
    "api_download": {"m": int, "u": int, "t": str},  # the API's download link: model, owner, format
}
_OPTIONAL: dict[str, dict[str, type | tuple[type, ...]]] = {
    "file": {"f": str},
}


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


def _is_type(value: Any, kind: type | tuple[type, ...]) -> bool:
    # bool is an int to isinstance; no field of ours is a bool.
    return isinstance(value, kind) and not isinstance(value, bool)


def unsign(token: str, *, purpose: str, max_lifetime_seconds: float) -> dict[str, Any]:
    """The payload of a token we signed for ``purpose`` and that has not expired; TokenInvalid otherwise.

    ``max_lifetime_seconds`` is the longest ``ttl_seconds`` its owner ever signs ``purpose`` with:
    an expiry further away than that (plus clock skew) was never issued by us.
    """
    if not isinstance(token, str):
        raise TokenInvalid()
    try:
        body, mac = token.split(".", 1)
        # compare_digest: a byte-by-byte compare would leak how much of a forged MAC is right.
        # Bytes, because compare_digest refuses str with non-ASCII characters (a TypeError).
        if not hmac.compare_digest(mac.encode("utf-8", "surrogatepass"),
                                   _mac(body, purpose).encode()):
            raise TokenInvalid()
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError, UnicodeError, RecursionError, binascii.Error):
        raise TokenInvalid() from None
    if not isinstance(payload, dict):
        raise TokenInvalid()
    raw_exp = payload.get("exp")
    if not _is_type(raw_exp, (int, float)):
        raise TokenInvalid()
    try:
        exp = float(raw_exp)  # type: ignore[arg-type]
    except OverflowError:  # an int of 400 digits
        raise TokenInvalid() from None
    now = time.time()
    if not math.isfinite(exp) or exp < now:
        raise TokenInvalid()
    if exp > now + max_lifetime_seconds + CLOCK_SKEW_SECONDS:
        raise TokenInvalid()
    for name, kind in _REQUIRED.get(purpose, {}).items():
        if not _is_type(payload.get(name), kind):
            raise TokenInvalid()
    for name, kind in _OPTIONAL.get(purpose, {}).items():
        if name in payload and not _is_type(payload[name], kind):
            raise TokenInvalid()
    return payload
