"""Operations data: seed-demo (a demo data set for the admin page; refused in production)."""

from __future__ import annotations

import argparse

from core.cli import whole_number
from core.config import get_settings
from core.db import get_session
from core.errors import ValidationError

MAX_DEMO_USERS = 10_000  # seed-demo --users
MAX_DEMO_ROWS = 100_000  # seed-demo --jobs and --models


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("seed-demo", help="insert demo users, jobs, models, tickets and more (never in production)")
    # Bounded: a demo of more rows than these takes hours to insert (or memory to build) and shows nothing more.
    p.add_argument("--users", type=whole_number(6, MAX_DEMO_USERS), default=60)
    p.add_argument("--jobs", type=whole_number(0, MAX_DEMO_ROWS), default=600)
    p.add_argument("--models", type=whole_number(0, MAX_DEMO_ROWS), default=150)
    p.set_defaults(func=cmd_seed_demo)


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from core.admin import demo

    if get_settings().environment == "production":
        raise ValidationError("seed-demo refuses to run with ENVIRONMENT=production: it would mix made-up "
                              "accounts into real data.")
    with get_session() as session:
        counts = demo.seed(session, users=args.users, jobs=args.jobs, models=args.models)
        email, created = demo.demo_admin(session)
    print("Seeded " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()) + ".")
    if created:
        print(f"Demo admin: {email}  password: {demo.DEMO_PASSWORD}")
    return 0
