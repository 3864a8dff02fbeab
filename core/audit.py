"""The audit log: one row per thing worth accounting for."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.models import AuditLog


def audit(session: Session, action: str, *, user_id: int | None = None, actor: str = "system",
          **details: Any) -> AuditLog:
    row = AuditLog(action=action, user_id=user_id, actor=actor, details=details)
    session.add(row)
    return row
