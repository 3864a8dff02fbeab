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
    if url in _CLEANERS:
        _CLEANERS.pop(url)[0].dispose()
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


#: Per database URL: an engine, the tables (children first) and, on PostgreSQL, the id sequences' oids.
_CLEANERS: dict[str, tuple[sa.Engine, list[str], list[int]]] = {}


def _cleaner(url: str) -> tuple[sa.Engine, list[str], list[int]]:
    if url not in _CLEANERS:
        from sqlmodel import SQLModel

        import core.models  # noqa: F401

        tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
        if url.startswith("sqlite"):
            eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
            # The emptying need not survive a power cut: no fsync (half of its time).
            sa.event.listen(eng, "connect", lambda dbapi_conn, _: dbapi_conn.execute("PRAGMA synchronous=OFF"))
            sequences: list[int] = []
        else:
            eng = sa.create_engine(url, pool_size=1)
            with eng.connect() as c:
                sequences = [row[0] for row in c.execute(sa.text(
                    "SELECT CAST(CAST(pg_get_serial_sequence(format('%I', table_name), column_name) AS regclass)"
                    " AS oid) FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND table_name = ANY(:tables)"
                    " AND pg_get_serial_sequence(format('%I', table_name), column_name) IS NOT NULL"),
                    {"tables": tables})]
        _CLEANERS[url] = (eng, tables, sequences)
    return _CLEANERS[url]


def _truncate(url: str) -> None:
    """Empty every table and restart its ids, as ``TRUNCATE ... RESTART IDENTITY CASCADE`` would.

    On PostgreSQL that is DELETE with the foreign-key triggers off and ``setval`` back to each id
    sequence's start: TRUNCATE makes new files for every table, about a second per test here
    (DELETE on a test's few rows takes milliseconds).
    """
    eng, tables, sequences = _cleaner(url)
    with eng.begin() as c:
        if eng.dialect.name == "postgresql":
            c.execute(sa.text("SET LOCAL session_replication_role = replica"))  # no FK order, no triggers
            for name in tables:
                c.execute(sa.text(f'DELETE FROM "{name}"'))
            c.execute(sa.text("SELECT setval(seqrelid, seqstart, false) FROM pg_sequence"
                              " WHERE seqrelid = ANY(:oids)"), {"oids": sequences})
        else:
            c.execute(sa.text("PRAGMA foreign_keys=OFF"))
            for name in tables:
                c.execute(sa.text(f'DELETE FROM "{name}"'))
            c.execute(sa.text("DELETE FROM sqlite_sequence")) if c.execute(
                sa.text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first() else None


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


class _ExpiringPresignMotoServer:
    """moto's ThreadedMotoServer, plus S3's rule that a presigned URL dies after X-Amz-Expires.

    moto (5.2) serves presigned URLs but never checks their age; real S3 answers
    403 "Request has expired". The check is S3's own rule applied to the query
    our code signed, so the test proves the URLs we hand out really expire.
    """

    def __init__(self, port: int) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        original_entry = self.server._server_entry

        def entry() -> None:
            import werkzeug.serving

            real_make_server = werkzeug.serving.make_server

            def make_server(host, port_, app, *args, **kwargs):  # type: ignore[no-untyped-def]
                return real_make_server(host, port_, _expiry_guard(app), *args, **kwargs)

            import moto.moto_server.threaded_moto_server as tms

            tms.make_server = make_server
            try:
                original_entry()
            finally:
                tms.make_server = real_make_server

        self.server._server_entry = entry  # type: ignore[method-assign]


def _expiry_guard(app):  # type: ignore[no-untyped-def]
    import datetime as dt
    import urllib.parse

    def guarded(environ, start_response):  # type: ignore[no-untyped-def]
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Expires" in query and "X-Amz-Date" in query:
            signed = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            if dt.datetime.now(dt.UTC) > signed + dt.timedelta(seconds=int(query["X-Amz-Expires"][0])):
                body = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                        b"<Message>Request has expired</Message></Error>")
                start_response("403 Forbidden", [("Content-Type", "application/xml"),
                                                  ("Content-Length", str(len(body)))])
                return [body]
        return app(environ, start_response)

    return guarded


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 in server mode over real HTTP; yields its endpoint URL."""
    port = free_port()
    wrapper = _ExpiringPresignMotoServer(port)
    wrapper.server.start()
    yield f"http://127.0.0.1:{port}"
    wrapper.server.stop()


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


@pytest.fixture
def stripe_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The local Stripe API stub (tests/utils/stripe_stub.py), with settings and the client pointed at it."""
    from core.billing import client
    from core.config import reset_settings
    from tests.utils.stripe_stub import StripeStub

    stub = StripeStub().start()
    monkeypatch.setenv("STRIPE_API_BASE", stub.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_stubbed_key_123")
    reset_settings()
    client.reset_client()
    yield stub
    stub.stop()
    client.reset_client()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a run whose PostgreSQL tests were skipped (or never ran) fails."""
    if not REQUIRE_PG or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped_pg = [r.nodeid for r in reporter.stats.get("skipped", []) if "postgresql" in r.nodeid]
    passed_pg = [r.nodeid for r in reporter.stats.get("passed", []) if "[postgresql" in r.nodeid]
    if skipped_pg or not passed_pg:
        reporter.write_line(f"FAILED: PostgreSQL tests were skipped ({len(skipped_pg)}) or none ran", red=True)
        session.exitstatus = 1


# --- the browser -------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads a browser here
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One Chromium for the whole run: Playwright's sync API allows one driver loop per process."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# --- the web process ---------------------------------------------------------------------------


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator:
    """A factory: ``web_server(DATABASE_URL=..., METRICS_TOKEN=...)`` -> a running ``WebServer``.

    Each is the real ``streamlit run app.py --server.headless true --server.port N``, started the
    plain way (no ``--server.address``, no ``PUBLIC_URL`` unless passed): see tests/utils/web_server.py.
    """
    from tests.utils.web_server import start_web_server, stop_web_server

    started: list = []

    def start(**overrides: str):  # type: ignore[no-untyped-def]
        server = start_web_server(tmp_path, **overrides)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_web_server(server)
