"""The actor's role, checked at the moment of an admin action, not only when the page was drawn.

A page holds the ``User`` it loaded when it rendered; an admin demoted (or erased) since then
must not be able to go on acting from that open page. Every admin action therefore reads the
actor's row again in its own transaction, locked (``FOR UPDATE`` on PostgreSQL) so a demotion
cannot commit between this check and the action's commit.
"""

from __future__ import annotations

from sqlmodel import Session, select

from core.errors import PermissionDenied
from core.models import Role, User


class NotAnAdmin(PermissionDenied):
    """Only an admin can do that, and this account is not an admin (any more). Reload the page."""

    code = "not_admin"


def require_admin(session: Session, actor: User) -> User:
    """The actor as the database holds it now; ``NotAnAdmin`` unless it is still an admin."""
    current = session.exec(select(User).where(User.id == actor.id).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if current is None or current.role != Role.ADMIN:
        session.rollback()
        raise NotAnAdmin()
    return current
