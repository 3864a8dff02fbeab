"""The email outbox from a terminal: what was sent, what waits (without SMTP_HOST: everything) and what failed."""

from __future__ import annotations

import argparse

from core import mail
from core.config import get_settings
from core.db import get_session
from core.text import escape, escape_block


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("outbox", help="the email outbox, newest first: recipient, subject, status "
                                      "(and with --bodies the text, links included)")
    p.add_argument("--status", choices=list(mail.STATUSES))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--bodies", action="store_true", help="print each message's text too")
    p.set_defaults(func=cmd_outbox)


def cmd_outbox(args: argparse.Namespace) -> int:
    with get_session() as session:
        rows = mail.list_messages(session, status=args.status, limit=max(1, min(args.limit, 10_000)))
        counts = mail.count_by_status(session)
    if not get_settings().smtp_host:
        print("SMTP_HOST is not set: nothing is sent; mails wait here (and in the web and worker logs).")
    print(", ".join(f"{n} {status}" for status, n in counts.items()))
    for m in rows:
        # Stored text as it came (older rows were never checked): control characters escaped.
        print(f"#{m.id:<6} {m.created_at:%Y-%m-%d %H:%M}  {m.status:<7} {escape(m.kind):<16} "
              f"to {escape(m.to_address)}  {escape(m.subject)}")
        if m.status != "sent" and m.last_error:
            print(f"        attempts {m.attempts}, last error: {escape(m.last_error)}")
        if args.bodies:
            print(escape_block(m.body, indent="        | "))
    if not rows:
        print("No messages.")
    return 0
