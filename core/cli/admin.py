"""Operations data: seed-demo (a demo data set for the admin page; refused in production)."""

from __future__ import annotations

import argparse

from core.config import get_settings
from core.db import get_session
from core.errors import ValidationError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("seed-demo", help="insert demo users, jobs, models, tickets and more (never in production)")
    p.add_argument("--users", type=int, default=60)
    p.add_argument("--jobs", type=int, default=600)
    p.add_argument("--models", type=int, default=150)
    p.set_defaults(func=cmd_seed_demo)


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from core.admin import demo

    if get_settings().environment == "production":
        raise ValidationError("seed-demo refuses to run with ENVIRONMENT=production: it would mix made-up "
                              "accounts into real data.")
    if min(args.users, args.jobs, args.models) < 0 or args.users < 6:
        raise ValidationError("--users must be at least 6; --jobs and --models at least 0.")
    with get_session() as session:
        counts = demo.seed(session, users=args.users, jobs=args.jobs, models=args.models)
        email, created = demo.demo_admin(session)
    print("Seeded " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()) + ".")
    if created:
        print(f"Demo admin: {email}  password: {demo.DEMO_PASSWORD}")
    return 0
