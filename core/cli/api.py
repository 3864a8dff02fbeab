"""The public API's keys: ``api-key create --email EMAIL [--name NAME]``, ``api-key list``, ``api-key revoke``."""

from __future__ import annotations

import argparse

from sqlmodel import Session

from core.accounts.auth import get_user_by_email
from core.api import keys
from core.db import get_session
from core.errors import NotFound
from core.i18n import N_
from core.models import User, pk


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("api-key", help="make, list and revoke a user's API keys")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    c = actions.add_parser("create", help="make a key; prints it alone on the last line (shown once)")
    c.add_argument("--email", required=True)
    c.add_argument("--name", default="")
    c.set_defaults(func=cmd_create)

    c = actions.add_parser("list", help="a user's keys: id, prefix, name, created, last used, revoked")
    c.add_argument("--email", required=True)
    c.set_defaults(func=cmd_list)

    c = actions.add_parser("revoke", help="revoke a key at once")
    c.add_argument("--email", required=True)
    c.add_argument("key_id", type=int)
    c.set_defaults(func=cmd_revoke)


def _user(session: Session, email: str) -> User:
    user = get_user_by_email(session, email)
    if user is None:
        raise NotFound(N_("No account with the email address {email}."), email=email)
    return user


def cmd_create(args: argparse.Namespace) -> int:
    with get_session() as session:
        user = _user(session, args.email)
        new = keys.create_key(session, user=user, name=args.name, actor="operator")
        print(f"Created API key {new.row.prefix}… ({new.row.name}) for {user.email}. It is shown only this once:")
        print(new.secret)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with get_session() as session:
        user = _user(session, args.email)
        for row in keys.list_keys(session, user_id=pk(user)):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            print(f"{row.id}\t{row.prefix}…\t{row.name}\tcreated {row.created_at:%Y-%m-%d}\tlast used {used}\t{state}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    with get_session() as session:
        user = _user(session, args.email)
        row = keys.revoke_key(session, user_id=pk(user), key_id=args.key_id, actor="operator")
        print(f"Revoked API key {row.prefix}… of {user.email}.")
    return 0
