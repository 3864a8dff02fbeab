"""Billing operations: reconcile-billing."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("reconcile-billing",
                       help="bring subscriptions and plans in line with Stripe; one line per change")
    p.add_argument("--dry-run", action="store_true", help="only print what would change")
    p.set_defaults(func=cmd_reconcile_billing)


def cmd_reconcile_billing(args: argparse.Namespace) -> int:
    from core.billing.reconcile import reconcile

    report = reconcile(dry_run=args.dry_run)
    prefix = "would change: " if args.dry_run else "changed: "
    for line in report.changes:
        print(prefix + line)
    done = "nothing was changed (dry run)" if args.dry_run else "done"
    print(f"{len(report.changes)} change(s) for {report.customers} Stripe customer(s); {done}.")
    return 0
