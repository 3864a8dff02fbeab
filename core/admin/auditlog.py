"""The audit log for admins: filtered by actor, action and target (the user it concerns)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.models import AuditLog

MAX_ROWS = 500


def actions(session: Session) -> list[str]:
    """Every action that occurs in the log, for the filter."""
    return sorted(str(a) for a in session.exec(select(AuditLog.action).distinct()).all())


def search(session: Session, *, actor: str | None = None, action: str | None = None,
           user_id: int | None = None, target: str | None = None, limit: int = MAX_ROWS) -> list[AuditLog]:
    """Newest first. ``actor`` matches a prefix ("admin" finds every admin, "admin:3" one);
    ``target`` matches the details' target ("model:12")."""
    stmt = select(AuditLog)
    if actor:
        stmt = stmt.where(col(AuditLog.actor).startswith(actor.strip()))
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if user_id is not None:
        stmt = stmt.where(AuditLog.user_id == user_id)
    rows = list(session.exec(stmt.order_by(col(AuditLog.id).desc()).limit(limit if not target else limit * 10)))
    if target:
        rows = [r for r in rows if str((r.details or {}).get("target", "")) == target.strip()][:limit]
    return rows
