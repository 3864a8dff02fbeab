"""The worker fleet: heartbeats, and maintenance slots that exactly one worker runs."""


from __future__ import annotations

import contextlib
import hashlib
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.jobs.queue import _is_pg, _now
from core.models import (
    GenerationJob,
    MaintenanceRun,
    WorkerHeartbeat,
    utcnow,
)

log = logging.getLogger(__name__)

JOBS: sa.Table = GenerationJob.__table__  # type: ignore[attr-defined]



# --- workers and maintenance ----------------------------------------------


def heartbeat(session: Session, *, worker_id: str, hostname: str = "", pid: int = 0, device: str = "cpu",
              segmenter: str = "grabcut", modes: str = "", concurrency: int = 1) -> None:
    """Record that this worker is alive, what it takes (kinds of job, device, concurrency) and its segmenter; commits.

    ``modes``: the kinds it takes, comma-separated (core.jobs.kinds.format_kinds); empty: all.
    """
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        session.add(WorkerHeartbeat(worker_id=worker_id, hostname=hostname[:255], pid=pid, device=device[:64],
                                    segmenter=segmenter[:64], modes=modes[:64], concurrency=concurrency))
    else:
        row.last_seen_at = utcnow()
        row.segmenter = segmenter[:64]  # a model pulled or removed while the worker runs
        session.add(row)
    session.commit()


def remove_heartbeat(session: Session, *, worker_id: str) -> None:
    session.execute(sa.delete(WorkerHeartbeat).where(col(WorkerHeartbeat.worker_id) == worker_id))
    session.commit()


def _lock_key(name: str) -> int:
    # A stable signed 63-bit key per name for PostgreSQL's advisory locks.
    return int.from_bytes(hashlib.sha256(f"vorm:{name}".encode()).digest()[:8], "big", signed=True)


def claim_maintenance(session: Session, *, name: str, slot: str, worker_id: str) -> MaintenanceRun | None:
    """Take the slot of a scheduled job for this worker; None when another worker has (or had) it. Commits.

    On PostgreSQL an advisory lock makes concurrent claimers skip at once instead of waiting on the
    unique index; the unique (name, slot) row is what makes it run once per slot, on SQLite too.
    """
    try:
        if _is_pg(session):
            got = session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _lock_key(name)}).scalar()
            if not got:
                session.rollback()
                return None
        exists = session.exec(select(col(MaintenanceRun.id)).where(col(MaintenanceRun.name) == name,
                                                              col(MaintenanceRun.slot) == slot)).first()
        if exists is not None:
            session.rollback()
            return None
        run = MaintenanceRun(name=name, slot=slot, worker_id=worker_id)
        session.add(run)
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    session.expunge(run)
    return run


def finish_maintenance(session: Session, *, run: MaintenanceRun, result: dict[str, Any]) -> None:
    session.execute(sa.update(MaintenanceRun).where(col(MaintenanceRun.id) == run.id)
                    .values(finished_at=_now(session), result=result)
                    .execution_options(synchronize_session=False))
    session.commit()


@contextlib.contextmanager
def singleton(name: str, *, engine: sa.Engine | None = None) -> Iterator[bool]:
    """Yields True in at most one worker of the fleet at a time (PostgreSQL advisory lock); True on SQLite.

    For frequent ticks such as outbox delivery, where two workers at once would send a mail twice.
    The lock lives on its own connection, held until the block ends; if that connection dies,
    PostgreSQL releases the lock with it.
    """
    from core.db import get_engine

    engine = engine or get_engine()
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(name.encode()) & 0x7FFFFFFF  # a different key space from claim_maintenance's 64-bit keys
    with engine.connect() as conn:
        got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(1, :k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.execute(sa.text("SELECT pg_advisory_unlock(1, :k)"), {"k": key})
                    conn.commit()


@dataclass(frozen=True)
class Slots:
    """The maintenance slot names for a moment: one per UTC day, one per UTC hour."""

    daily: str
    hourly: str

    @classmethod
    def at(cls, now: datetime) -> Slots:
        t = now.astimezone(UTC)
        return cls(daily=t.strftime("%Y-%m-%d"), hourly=t.strftime("%Y-%m-%dT%H"))
