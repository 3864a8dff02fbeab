"""Builders for test data, through the same core functions the app uses."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from core.accounts import auth
from core.models import User

PASSWORD = "correct-horse-42"


def create_random_user(session: Session, *, plan: str = "free", role: str = "user",
                       password: str = PASSWORD) -> User:
    user = auth.create_user(session, email=f"user-{uuid.uuid4().hex[:10]}@example.org", password=password,
                            name="Test User", plan=plan, role=role, accepted_policy="2025-05-02")
    session.commit()
    return user
