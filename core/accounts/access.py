"""The access log: where a request came from (IP address and browser) at login, upload and other account events.

Policy clause 1 names it and clause 2 uses it against fraud; ``core.privacy.retention`` shortens
the addresses after 30 days and deletes the entries after 180.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from core.models import AccessEvent


@dataclass(frozen=True)
class Client:
    """Where a request came from (st.context in the web process)."""

    ip: str | None = None
    user_agent: str | None = None


NO_CLIENT = Client()


def record_access(session: Session, *, kind: str, client: Client, user_id: int | None = None,
                  reason: str | None = None) -> AccessEvent:
    event = AccessEvent(user_id=user_id, kind=kind, reason=reason, ip=(client.ip or "")[:64] or None,
                        user_agent=(client.user_agent or "")[:512] or None)
    session.add(event)
    return event

