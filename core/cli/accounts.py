"""Accounts and operations: migrate, create-user, set-plan, bootstrap-admin, stats."""

from __future__ import annotations

import argparse
import json
import secrets

import sqlalchemy as sa
from sqlmodel import select

from core.accounts import auth
from core.db import get_session, migrate
from core.models import GenerationJob, Model3D, Role, Upload, User


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-user", help="create an account")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--admin", action="store_true")
    p.add_argument("--plan", choices=["free", "premium"], default="free")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("set-plan", help="set a user's plan")
    p.add_argument("email")
    p.add_argument("plan", choices=["free", "premium"])
    p.set_defaults(func=cmd_set_plan)

    p = sub.add_parser("bootstrap-admin", help="create the first admin if none exists; prints its password once")
    p.add_argument("--email", default="admin@vorm.local")
    p.set_defaults(func=cmd_bootstrap_admin)

    p = sub.add_parser("stats", help="counts of users, jobs and models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate()
    print("Database is up to date.")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    with get_session() as session:
        user = auth.create_user(session, email=args.email, password=args.password, name=args.name,
                                role=Role.ADMIN if args.admin else Role.USER, plan=args.plan)
        session.commit()
        print(f"Created {user.role} {user.email} (id {user.id}, plan {user.plan}).")
    return 0


def cmd_set_plan(args: argparse.Namespace) -> int:
    with get_session() as session:
        user = auth.set_plan(session, email=args.email, plan=args.plan)
        print(f"{user.email} is now on the {user.plan} plan.")
    return 0


def cmd_bootstrap_admin(args: argparse.Namespace) -> int:
    with get_session() as session:
        if session.exec(select(User.id).where(User.role == Role.ADMIN)).first() is not None:
            print("An admin account exists already; nothing to do.")
            return 0
        password = secrets.token_urlsafe(12) + "7a"
        auth.create_user(session, email=args.email, password=password, name="Admin", role=Role.ADMIN)
        session.commit()
    print(f"Created the first admin account: {args.email}  password: {password}")
    print('This password is shown only once. Change it after logging in, on the "Account" page.')
    return 0


def collect_stats() -> dict[str, object]:
    with get_session() as session:
        def grouped(column: sa.ColumnElement) -> dict[str, int]:  # type: ignore[type-arg]
            rows = session.exec(select(column, sa.func.count()).group_by(column)).all()  # type: ignore[call-overload]
            return {str(k): int(v) for k, v in rows}

        return {
            "users": grouped(User.plan),  # type: ignore[arg-type]
            "jobs": grouped(GenerationJob.status),  # type: ignore[arg-type]
            "models": int(session.exec(select(sa.func.count()).select_from(Model3D)).one()),
            "uploads": int(session.exec(select(sa.func.count()).select_from(Upload)).one()),
        }


def cmd_stats(args: argparse.Namespace) -> int:
    stats = collect_stats()
    if args.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        for key, value in stats.items():
            print(f"{key}: {value}")
    return 0
