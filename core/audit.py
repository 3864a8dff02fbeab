"""The audit log: one row per thing worth accounting for.

``actor`` says who did it: ``user:<id>`` for a person acting on their own account (from a page or
a link they opened), ``admin:<id>`` for an admin acting on someone else's, ``operator`` for the CLI,
and ``system`` for the worker and Stripe's webhooks (nobody clicked anything).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.models import AuditLog

SYSTEM = "system"


def user_actor(user_id: int | None) -> str:
    """The actor of a user's own action."""
    return f"user:{user_id}"


def audit(session: Session, action: str, *, user_id: int | None = None, actor: str = SYSTEM,
          **details: Any) -> AuditLog:
    row = AuditLog(action=action, user_id=user_id, actor=actor, details=details)
    session.add(row)
    return row
