"""Privacy operations: export-user, delete-user, purge, publish-policy, privacy-requests, maintenance."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from core.accounts.auth import get_user_by_email
from core.db import get_session
from core.errors import NotFound, ValidationError
from core.privacy import announce, erasure, exports, maintenance, retention
from core.support import tickets as support

NOW_MIN_YEAR, NOW_MAX_YEAR = 2000, 9000  # --now: far enough either way for any cutoff to stay a date


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export-user", help="write a user's data export ZIP to a file")
    p.add_argument("email")
    p.add_argument("-o", "--output", required=True, help="the ZIP file to write")
    p.set_defaults(func=cmd_export_user)

    p = sub.add_parser("delete-user", help="erase a user: rows, storage objects, sessions, Stripe customer")
    p.add_argument("email")
    p.set_defaults(func=cmd_delete_user)

    p = sub.add_parser("purge", help="delete uploads and models past their retention (see --dry-run)")
    p.add_argument("--dry-run", action="store_true", help="only print what would be deleted")
    p.add_argument("--now", help="pretend it is this moment (ISO date or datetime, UTC)")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("publish-policy", help="publish new versions from core/privacy/policies/versions.toml")
    p.set_defaults(func=cmd_publish_policy)

    p = sub.add_parser("privacy-requests", help="open privacy requests, soonest deadline first")
    p.set_defaults(func=cmd_privacy_requests)

    p = sub.add_parser("maintenance", help="run the daily maintenance now (purge, IPs, exports, tokens)")
    p.add_argument("--now", help="pretend it is this moment (ISO date or datetime, UTC)")
    p.set_defaults(func=cmd_maintenance)


def parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--now must be an ISO date or datetime, not {text!r}.") from None
    if not NOW_MIN_YEAR <= moment.year <= NOW_MAX_YEAR:
        # Retention and IP cutoffs are computed from it: year 1 minus 30 days overflows.
        raise ValidationError(f"--now must lie between the years {NOW_MIN_YEAR} and {NOW_MAX_YEAR}, not {text!r}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _user_id(email: str) -> int:
    with get_session() as session:
        user = get_user_by_email(session, email)
        if user is None or user.id is None:
            raise NotFound(f"No account with the email address {email!r}.")
        return user.id


def _output_path(text: str) -> Path:
    """The export's target: a file name whose folder exists or can be made, and that is not a folder."""
    if not text.strip():
        raise ValidationError("-o needs a file name, e.g. -o export.zip.")
    out = Path(text)
    if out.is_dir() or text.endswith("/"):
        raise ValidationError(f"{text} is a folder; give a file name, e.g. {out / 'export.zip'}.")
    return out


def cmd_export_user(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    user_id = _user_id(args.email)
    # A hidden temporary file only the operator can read (it holds personal data), renamed into
    # place when complete and removed when the export fails half-way.
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise ValidationError(f"Cannot write {out}: {getattr(exc, 'strerror', None) or exc}.") from None
    tmp = Path(tmp_name)
    try:
        with get_session() as session, os.fdopen(fd, "wb") as fh:
            counts = exports.write_export(session, user_id=user_id, out=fh)
        tmp.replace(out)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if not isinstance(exc, OSError) or exc.filename not in (None, str(tmp), str(out)):
            raise  # a local storage object could not be read: core.manage reports storage as unreachable
        raise ValidationError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    print(f"Wrote {out}: {counts['rows']} rows, {counts['files']} files"
          + (f", {counts['missing']} missing from storage" if counts["missing"] else "") + ".")
    return 0


def cmd_delete_user(args: argparse.Namespace) -> int:
    result = erasure.erase_user(_user_id(args.email), actor="operator")
    rows = sum(result.rows.values())
    print(f"Erased {args.email}: {rows} rows, {result.objects} storage objects, "
          f"Stripe: {', '.join(result.stripe) or 'no customer'}.")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    now = parse_now(args.now)
    with get_session() as session:
        result = retention.purge_expired(session, now=now, dry_run=args.dry_run)
    verb = "Would delete" if args.dry_run else "Deleted"
    print(f"{verb} {result.models} models and {result.uploads} uploads ({result.objects} storage objects) "
          f"of {len(result.per_user)} users; retention cutoff {result.cutoff:%Y-%m-%d %H:%M} UTC.")
    print(f"{verb} {result.orphans} storage objects that no database row refers to.")
    for user_id, count in sorted(result.per_user.items()):
        print(f"  user {user_id}: {count} items")
    return 0


def cmd_publish_policy(args: argparse.Namespace) -> int:
    with get_session() as session:
        published = announce.publish_policies(session)
    if not published:
        print("Every policy version is published already; nothing to do.")
    for item in published:
        kind = "material" if item["material"] else "minor"
        print(f"Published policy {item['version']} ({kind}); {item['notices']} notice emails queued.")
    return 0


def cmd_privacy_requests(args: argparse.Namespace) -> int:
    with get_session() as session:
        rows = support.open_privacy_requests(session)
    if not rows:
        print("No open privacy requests.")
    for r in rows:
        print(f"#{r.id} user {r.user_id} {r.kind} {r.status} due {r.due_at:%Y-%m-%d}")
    return 0


def cmd_maintenance(args: argparse.Namespace) -> int:
    print(json.dumps(maintenance.daily_maintenance(parse_now(args.now)), indent=2, default=str))
    return 0
