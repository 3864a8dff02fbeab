"""Shared fixtures: real databases (SQLite and PostgreSQL), storage, moto's S3 server, SMTP.

``db`` is parametrised over both engines. PostgreSQL tests are skipped when the
server is down, except under CI (or VORM_REQUIRE_POSTGRES=1), where that fails.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("VORM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = bool(os.environ.get("CI") or os.environ.get("VORM_REQUIRE_POSTGRES"))

# Isolate every test run from a developer's .env / secrets.toml.
os.environ["VORM_SECRETS_FILE"] = "/nonexistent/secrets.toml"
os.environ.setdefault("ENVIRONMENT", "test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_available() -> bool:
    try:
        eng = sa.create_engine(PG_ADMIN_URL)
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def create_pg_database(prefix: str = "vorm_test") -> str:
    """A fresh, empty PostgreSQL database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def _apply_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    from core.config import reset_settings
    from core.db import reset_engines
    from core.storage import reset_storage

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    reset_engines()
    reset_storage()


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from core.db import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'vorm.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def _pg_url() -> Iterator[str | None]:
    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (CI) but not reachable at " + PG_ADMIN_URL)
        yield None
        return
    from core.db import migrate

    url = create_pg_database()
    migrate(url)
    yield url
    from core.db import reset_engines

    reset_engines()
    drop_pg_database(url)


def _truncate(url: str) -> None:
    from sqlmodel import SQLModel

    import core.models  # noqa: F401

    eng = sa.create_engine(url)
    with eng.begin() as c:
        if eng.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            c.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            c.execute(sa.text("PRAGMA foreign_keys=OFF"))
            for t in reversed(SQLModel.metadata.sorted_tables):
                c.execute(t.delete())
            c.execute(sa.text("DELETE FROM sqlite_sequence")) if c.execute(
                sa.text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first() else None
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated, empty database (both engines); settings, engine and local storage point at it."""
    if request.param == "sqlite":
        url = request.getfixturevalue("_sqlite_url")
    else:
        url = request.getfixturevalue("_pg_url")
        if url is None:
            pytest.skip("PostgreSQL is not reachable")
    _truncate(url)
    _apply_env(monkeypatch, DATABASE_URL=url, DATA_DIR=str(tmp_path / "data"),
               STORAGE_DIR=str(tmp_path / "storage"), STORAGE_BACKEND="local")
    yield request.param
    from core.db import reset_engines

    reset_engines()


@pytest.fixture
def pg_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _pg_url: str | None) -> Iterator[str]:
    """PostgreSQL only (for SKIP LOCKED, advisory locks and multi-process tests)."""
    if _pg_url is None:
        pytest.skip("PostgreSQL is not reachable")
    _truncate(_pg_url)
    _apply_env(monkeypatch, DATABASE_URL=_pg_url, DATA_DIR=str(tmp_path / "data"),
               STORAGE_DIR=str(tmp_path / "storage"), STORAGE_BACKEND="local")
    yield _pg_url
    from core.db import reset_engines

    reset_engines()


@pytest.fixture
def session(db: str) -> Iterator[sa.orm.Session]:
    from core.db import get_session

    with get_session() as s:
        yield s


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 in server mode over real HTTP; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(moto_server: str, monkeypatch: pytest.MonkeyPatch, db: str) -> Iterator[str]:
    """Point storage at a fresh bucket on the moto server; yields the bucket name."""
    import boto3

    bucket = f"vorm-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-1").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    _apply_env(monkeypatch, STORAGE_BACKEND="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=moto_server,
               S3_REGION="eu-west-1", S3_ACCESS_KEY_ID="testing", S3_SECRET_ACCESS_KEY="testing")
    yield bucket


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """A real local SMTP server (aiosmtpd); yields the list of received envelopes."""
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    _apply_env(monkeypatch, SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))
    yield received
    controller.stop()
