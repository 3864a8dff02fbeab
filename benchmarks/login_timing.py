"""How long a refused login takes, by why it was refused: unknown address, wrong password, locked account.

    .venv/bin/python -m benchmarks.login_timing [--rounds 15] [--database-url URL]

The three must take about as long, or the answer time tells which accounts exist (the review timed
2 ms for a locked account against 0.2 s for an unknown one). Prints the median and the spread of
each, and the largest ratio between the medians. The default database is a fresh SQLite file in a
temp folder; pass a PostgreSQL URL (an empty database) to measure that instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vorm-login-timing-"))
    os.environ["DATA_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'vorm.db'}"
    os.environ.setdefault("VORM_SECRETS_FILE", "/nonexistent/secrets.toml")

    from core.accounts import auth
    from core.config import get_settings
    from core.db import get_session, migrate
    from core.errors import AuthError

    migrate()
    password = "benchmark-pass-42"
    with get_session() as session:
        known = auth.create_user(session, email="known@example.org", password=password)
        locked = auth.create_user(session, email="locked@example.org", password=password)
        session.commit()
        for i in range(get_settings().max_failed_logins):
            try:
                auth.authenticate(session, email=locked.email, password=f"wrong-guess-{i}")
            except AuthError:
                pass

    cases = {
        "unknown address": ("nobody@example.org", "some-guess-1"),
        "wrong password": (known.email, "some-guess-1"),
        "locked account": (locked.email, "some-guess-1"),
        "locked, right password": (locked.email, password),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (email, guess) in cases.items():
            with get_session() as session:
                started = time.perf_counter()
                try:
                    auth.authenticate(session, email=email, password=guess)
                except AuthError:
                    pass
                times[name].append(time.perf_counter() - started)
        # Keep the wrong-password account below the lock, so it stays a wrong-password case.
        with get_session() as session:
            auth.authenticate(session, email=known.email, password=password)

    print(f"refused logins, {args.rounds} rounds, {os.environ['DATABASE_URL'].split(':')[0]}")  # noqa: T201
    medians = {}
    for name, values in times.items():
        medians[name] = statistics.median(values)
        print(f"  {name:<24} median {medians[name] * 1000:7.1f} ms   "  # noqa: T201
              f"min {min(values) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms")
    print(f"  largest ratio between medians: {max(medians.values()) / min(medians.values()):.2f}")  # noqa: T201


if __name__ == "__main__":
    main()
