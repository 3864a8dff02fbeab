"""The worker's maintenance jobs: small functions that delegate to core.

Each takes no arguments and returns a JSON-able summary, which the worker records on
the maintenance slot (``core.jobs.fleet``). Heavy imports stay inside the functions,
so importing the worker stays cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.db import get_session
from core.jobs import fleet


def daily() -> dict[str, Any]:
    """Retention purge, IP truncation, expired exports, tokens and sessions."""
    from core.privacy.maintenance import daily_maintenance

    return dict(daily_maintenance(datetime.now(UTC)) or {})


def hourly() -> dict[str, Any]:
    return {"outbox": deliver_outbox()}


def privacy_tick() -> None:
    """Build requested exports, finish pending erasures, publish new policy versions."""
    from core.privacy.maintenance import tick

    with fleet.singleton("privacy.tick") as mine:
        if mine:
            tick()


def deliver_outbox() -> dict[str, Any]:
    from core.mail import deliver_pending

    # Two workers delivering at once would send a mail twice.
    with fleet.singleton("outbox") as mine:
        if not mine:
            return {"skipped": "another worker is delivering"}
        with get_session() as session:
            return dict(deliver_pending(session))
