"""Requests per key, counted in the shared database so that the limit holds across web processes.

A fixed window per key: one row per (key, minute), incremented with one upsert that returns the
new count (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, on PostgreSQL and SQLite alike), so
two processes never both see the last free request. Headers follow the IETF RateLimit fields draft:
``RateLimit-Policy: "minute";q=60;w=60`` and ``RateLimit: "minute";r=12;t=48``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from core.models import ApiRateWindow

WINDOW_SECONDS = 60
POLICY_NAME = "minute"
KEEP_WINDOWS = 2  # older windows are deleted by the worker's tick
RATE: sa.Table = ApiRateWindow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_seconds: int  #: until the window ends
    allowed: bool

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Policy": f'"{POLICY_NAME}";q={self.limit};w={WINDOW_SECONDS}',
                   "RateLimit": f'"{POLICY_NAME}";r={self.remaining};t={self.reset_seconds}'}
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


def hit(session: Session, *, key_id: int, limit: int, now: float | None = None) -> RateState:
    """Count one request of ``key_id``; commits. ``allowed`` is False once the window's limit is passed."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # A counter lost in a crash costs a client a few extra requests; waiting for the WAL flush on every
        # request would cost every client a disk round trip.
        session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RATE)
    statement = (insert.values(key_id=key_id, window_start=window, count=1)
                 .on_conflict_do_update(index_elements=["key_id", "window_start"],
                                        set_={"count": RATE.c.count + 1})
                 .returning(RATE.c.count))
    count = int(session.execute(statement).scalar_one())
    session.commit()
    reset = max(1, math.ceil(window + WINDOW_SECONDS - now))
    return RateState(limit=limit, remaining=max(0, limit - count), reset_seconds=reset, allowed=count <= limit)


def purge_old_windows(session: Session, *, now: float | None = None) -> int:
    """Delete counters of finished windows; commits."""
    now = time.time() if now is None else now
    oldest = int(now // WINDOW_SECONDS) * WINDOW_SECONDS - KEEP_WINDOWS * WINDOW_SECONDS
    n = session.execute(RATE.delete().where(RATE.c.window_start < oldest)).rowcount  # type: ignore[attr-defined]
    session.commit()
    return int(n or 0)
