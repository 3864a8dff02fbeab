"""The support inbox from a terminal: tickets, ticket (show, reply, close)."""

from __future__ import annotations

import argparse

from core.cli import row_id, whole_number
from core.cli.jobs import MAX_LIST_LIMIT
from core.db import get_session
from core.support import inbox
from core.text import escape, escape_block


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tickets", help="support tickets, those waiting longest first")
    p.add_argument("--status", choices=list(inbox.TICKET_STATUSES))
    p.add_argument("--limit", type=whole_number(1, MAX_LIST_LIMIT), default=100)
    p.set_defaults(func=cmd_tickets)

    p = sub.add_parser("ticket", help="show one ticket's thread; --reply mails an answer to the user, --close closes")
    p.add_argument("id", type=row_id("ticket"))
    p.add_argument("--reply", metavar="TEXT", help="answer the user (mailed in their language, shown in their thread)")
    p.add_argument("--close", action="store_true", help="close the ticket (after the reply, if any)")
    p.set_defaults(func=cmd_ticket)


def cmd_tickets(args: argparse.Namespace) -> int:
    with get_session() as session:
        rows = inbox.list_tickets(session, status=args.status, limit=args.limit)
        counts = inbox.message_counts(session, [int(t.id or 0) for t in rows])
    if not rows:
        print("No tickets.")
    for t in rows:
        # Stored text as typed (older rows were never checked): control characters escaped.
        print(f"#{t.id:<6} {t.status:<9} {t.updated_at:%Y-%m-%d %H:%M}  {escape(t.email):<32} "
              f"{counts.get(int(t.id or 0), 0) + 1} msg  {escape(t.subject)}")
    return 0


def cmd_ticket(args: argparse.Namespace) -> int:
    with get_session() as session:
        if args.reply is not None:
            inbox.reply(session, ticket_id=args.id, body=args.reply)
            print(f"Replied to ticket #{args.id}; the mail to the user is in the outbox.")
        if args.close:
            inbox.close(session, ticket_id=args.id)
            print(f"Ticket #{args.id} is closed.")
        thread = inbox.get_thread(session, ticket_id=args.id)
    t = thread.ticket
    print(f"Ticket #{t.id} [{t.status}] from {escape(t.email)} (user {t.user_id or '-'}), "
          f"{t.created_at:%Y-%m-%d %H:%M} UTC")
    print(f"Subject: {escape(t.subject)}\n\n{escape_block(t.body)}")
    for m in thread.messages:
        print(f"\n--- {m.author} {m.created_at:%Y-%m-%d %H:%M} UTC\n{escape_block(m.body)}")
    return 0
