"""The database engine and short sessions.

One engine per process and URL. Each request, page action or job opens
``with get_session() as session:``. Migrations run through Alembic, both from
``python -m core.manage migrate`` and when either process starts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.config import ROOT, get_settings
from core.errors import ConfigError, TransientError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers wait for each other instead of failing


def _ensure_sqlite_dir(url: str) -> None:
    """The embedded default lives under DATA_DIR, which a fresh checkout does not have yet."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


@functools.cache
def _engine_for(url: str) -> Engine:
    _ensure_sqlite_dir(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # pre_ping lets both processes ride out a database restart instead of failing the next query.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800)


def get_engine() -> Engine:
    return _engine_for(get_settings().db_url)


def reset_engines() -> None:
    """Dispose of every engine (tests switch databases between cases)."""
    _engine_for.cache_clear()


@contextlib.contextmanager
def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def is_postgres(engine: Engine | None = None) -> bool:
    return (engine or get_engine()).dialect.name == "postgresql"


def check_connection() -> None:
    """Raise a clear TransientError when the database cannot be reached."""
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise TransientError(f"The database is not reachable ({_short(exc)}).") from exc


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__


def alembic_config(url: str | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().db_url).replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> None:
    """Bring the schema to the newest revision."""
    from alembic import command

    url = url or get_settings().db_url
    _ensure_sqlite_dir(url)
    try:
        command.upgrade(alembic_config(url), "head")
    except sa.exc.OperationalError as exc:
        raise TransientError(f"The database is not reachable ({_short(exc)}).") from exc
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not valid ({exc}).") from exc
