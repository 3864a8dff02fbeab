"""How the admin page holds up with 10,000 users, 100,000 jobs and 20,000 models.

    python -m benchmarks.admin [--users 10000] [--jobs 100000] [--models 20000] [--database-url URL]
    python -m benchmarks.admin --postgres        (a throwaway database on the local PostgreSQL)

Bulk-inserts the demo data set at that size, then prints the median time of each query the page
runs (30-day period) and the server-side render time of each tab (AppTest: frame + pages/admin.py).
The target is at most 1 s per render. Uses a throwaway SQLite database unless told otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPEATS = 5
TARGET_SECONDS = 1.0
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _median_ms(fn: Any, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _pg_database() -> str:
    import sqlalchemy as sa

    name = f"vorm_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _drop_pg(url: str) -> None:
    import sqlalchemy as sa

    from core.db import reset_engines

    reset_engines()
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=20_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--postgres", action="store_true", help="use a throwaway database on local PostgreSQL")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vorm-bench-admin-"))
    url = args.database_url or (_pg_database() if args.postgres else f"sqlite:///{tmp / 'vorm.db'}")
    os.environ.update({"DATA_DIR": str(tmp), "STORAGE_DIR": str(tmp / "storage"), "ENVIRONMENT": "test",
                       "VORM_SECRETS_FILE": "/nonexistent", "DATABASE_URL": url})
    try:
        run(args)
    finally:
        if args.postgres and not args.database_url:
            _drop_pg(url)


def run(args: argparse.Namespace) -> None:
    from streamlit.testing.v1 import AppTest

    from core.accounts import auth
    from core.admin import auditlog, demo, metrics
    from core.db import get_engine, get_session, migrate
    from core.support import inbox, requests

    migrate()
    start = time.perf_counter()
    with get_session() as session:
        counts = demo.seed(session, users=args.users, jobs=args.jobs, models=args.models)
        admin = auth.create_user(session, email=f"bench-admin-{time.time_ns()}@example.org",
                                 password="benchmark-admin-1", role="admin")
        session.commit()
        token = auth.create_session(session, user=admin)
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    print(f"{engine.dialect.name}: seeded {counts} in {time.perf_counter() - start:.1f} s")

    period = metrics.Period.of("30d")
    queries = {
        "users": lambda s: metrics.users(s, period),
        "money": lambda s: metrics.money(s, period),
        "jobs (buckets, depth, p50/p95, failures)": lambda s: metrics.jobs(s, period),
        "jobs 3D cube": lambda s: metrics.job_cube(s, period),
        "workers": lambda s: metrics.workers(s),
        "storage by plan": lambda s: metrics.storage(s),
        "purge history": lambda s: metrics.purge_history(s),
        "tickets by age": lambda s: metrics.tickets_by_age(s),
        "privacy requests": lambda s: requests.list_requests(s),
        "support inbox": lambda s: inbox.list_tickets(s, status="open"),
        "audit log (all)": lambda s: auditlog.search(s),
        "next purge (dry run; cached 10 min on the page)": lambda s: metrics.next_purge(s),
    }
    print(f"{'query (30 days)':<50} {'median ms':>10}")
    for name, fn in queries.items():
        with get_session() as session:
            ms = _median_ms(lambda fn=fn, session=session: fn(session), 3 if "purge (dry" in name else REPEATS)
        print(f"{name:<50} {ms:>10.1f}")

    root = Path(__file__).resolve().parents[1]
    print(f"{'render (AppTest, server side)':<50} {'first ms':>10} {'median ms':>10}")
    worst = 0.0
    for tab in ("Overview", "Jobs", "Support", "Privacy", "Users", "Audit log"):
        for period_key in ("24h", "30d"):
            def render(tab: str = tab, period_key: str = period_key) -> None:
                at = AppTest.from_file(str(root / "pages" / "admin.py"), default_timeout=60)
                at.session_state["_vorm_token"] = token
                at.session_state["_vorm_no_cookies"] = True
                at.session_state["lang"] = "en"
                at.session_state["admin_tab"] = tab
                at.session_state["admin_period"] = period_key
                at.run()
                if at.exception:
                    raise RuntimeError(f"{tab}: {at.exception[0].message}")

            t0 = time.perf_counter()
            render()
            first = (time.perf_counter() - t0) * 1000
            median = _median_ms(render)
            worst = max(worst, median)
            print(f"{tab + ' · ' + period_key:<50} {first:>10.0f} {median:>10.0f}")
    verdict = "within" if worst <= TARGET_SECONDS * 1000 else "OVER"
    print(f"slowest tab render {worst:.0f} ms: {verdict} the {TARGET_SECONDS:.0f} s target")


if __name__ == "__main__":
    main()
