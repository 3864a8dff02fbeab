"""API keys: made, listed, revoked and checked. Only a SHA-256 of a key is stored.

A key is ``vorm_`` and 40 characters from ``secrets.token_urlsafe`` (240 random bits): with that
much entropy a fast hash is enough, and it lets every request find its key by one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.api.errors import ApiKeyInvalid
from core.audit import audit
from core.errors import NotFound, ValidationError
from core.i18n import N_
from core.models import ApiKey, User, pk, utcnow

KEY_PREFIX = "vorm_"
KEY_RANDOM_BYTES = 30  # 240 bits; 40 URL-safe characters
SHOWN_PREFIX_CHARS = 12  # "vorm_" and 7 random characters: enough to tell keys apart, useless to guess with
MAX_KEY_NAME_CHARS = 100
MAX_KEYS_PER_USER = 20
LAST_USED_RESOLUTION_SECONDS = 60  # last_used_at is written at most this often per key, not on every request


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is shown this once and never stored."""

    row: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def plan_has_api(plan: str) -> bool:
    """Every plan gets keys: the API counts against the same daily quota as the UI, and premium's
    rate limit is higher (settings ``*_api_requests_per_minute``)."""
    return bool(plan)


def create_key(session: Session, *, user: User, name: str = "", actor: str = "user") -> NewKey:
    """Make a key for ``user``; commits and audits. The secret is in the result only."""
    name = " ".join((name or "").split())[:MAX_KEY_NAME_CHARS] or "API key"
    active = session.exec(select(sa.func.count()).select_from(ApiKey).where(
        col(ApiKey.user_id) == pk(user), col(ApiKey.revoked_at).is_(None))).one()
    if int(active) >= MAX_KEYS_PER_USER:
        raise ValidationError(N_("You have {limit} active API keys, the most an account may have. Revoke one "
                                 "first."), limit=MAX_KEYS_PER_USER)
    secret = KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)
    row = ApiKey(user_id=pk(user), name=name, prefix=secret[:SHOWN_PREFIX_CHARS], key_hash=hash_key(secret))
    session.add(row)
    session.flush()
    audit(session, "api_key.created", user_id=pk(user), actor=actor, key_id=row.id, prefix=row.prefix)
    session.commit()
    session.refresh(row)
    return NewKey(row=row, secret=secret)


def list_keys(session: Session, *, user_id: int) -> list[ApiKey]:
    """The user's keys, newest first, revoked ones included (the page shows them as revoked)."""
    return list(session.exec(select(ApiKey).where(col(ApiKey.user_id) == user_id)
                             .order_by(col(ApiKey.id).desc())).all())


def revoke_key(session: Session, *, user_id: int, key_id: int, actor: str = "user") -> ApiKey:
    """Revoke at once: the next request with it is refused. Commits and audits; repeating is harmless."""
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != user_id:
        raise NotFound(N_("That API key does not exist, or it is not yours."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        audit(session, "api_key.revoked", user_id=user_id, actor=actor, key_id=row.id, prefix=row.prefix)
        session.commit()
        session.refresh(row)
    return row


def authenticate(session: Session, authorization: str | None) -> tuple[ApiKey, User]:
    """The key and its owner for an ``Authorization: Bearer vorm_...`` header; ApiKeyInvalid otherwise."""
    scheme, _sep, secret = (authorization or "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        raise ApiKeyInvalid()
    digest = hash_key(secret)
    row = session.exec(select(ApiKey).where(col(ApiKey.key_hash) == digest)).first()
    # compare_digest: the lookup found the row by its hash; this keeps the final check constant-time too.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
        raise ApiKeyInvalid()
    user = session.get(User, row.user_id)
    if user is None or user.password_hash.startswith("!"):
        raise ApiKeyInvalid()
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=LAST_USED_RESOLUTION_SECONDS):
        session.execute(sa.update(ApiKey).where(col(ApiKey.id) == row.id).values(last_used_at=now)
                        .execution_options(synchronize_session=False))
        session.commit()
    return row, user
