"""Builders for test data, through the same core functions the app uses."""

from __future__ import annotations

import threading
import uuid
from unittest import mock

from sqlmodel import Session

from core.accounts import auth
from core.models import User

PASSWORD = "correct-horse-42"

_hashes: dict[str, str] = {}
_hashing = threading.Lock()
_real_hash_password = auth.hash_password


def _hash_once(password: str) -> str:
    """The product's bcrypt hash (12 rounds), made once per password and test process.

    A hash takes a quarter of a second of CPU, a second on the busy CI machine, and the suite makes
    hundreds of users with the same password: every one of them gets a real hash of it that logins
    check as usual; only the salt is shared. Tests of hashing itself go through ``auth`` directly.
    """
    if password not in _hashes:
        _hashes[password] = _real_hash_password(password)
    return _hashes[password]


def create_random_user(session: Session, *, plan: str = "free", role: str = "user",
                       password: str = PASSWORD) -> User:
    with _hashing, mock.patch.object(auth, "hash_password", _hash_once):
        user = auth.create_user(session, email=f"user-{uuid.uuid4().hex[:10]}@example.org", password=password,
                                name="Test User", plan=plan, role=role, accepted_policy="2025-05-02")
    session.commit()
    return user
