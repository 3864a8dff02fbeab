"""Operator CLI: ``python -m core.manage COMMAND``. Run with ``--help`` for the commands.

Exit codes: 0 success, 2 bad input, 3 database or storage unreachable.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import NoReturn

import sqlalchemy as sa

from core.cli import COMMAND_MODULES
from core.errors import TransientError, VormError
from core.text import escape


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the usage itself is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core.manage", description="Vorm operator commands")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # an area not built yet
            raise
        module.register(sub)
    return parser


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the README's exit code (0 ok, 2 bad input, 3 database/storage unreachable).

    Every failure an operator can cause ends in one line on stderr, never a traceback.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the error (or --help)
        return 0 if exc.code in (0, None) else 2
    try:
        return int(args.func(args) or 0)
    except TransientError as exc:
        print(f"error: {escape(str(exc))}", file=sys.stderr)
        return 3
    except VormError as exc:  # its message may quote what was typed
        print(f"error: {escape(str(exc))}", file=sys.stderr)
        return 2
    except sa.exc.ArgumentError as exc:  # DATABASE_URL that is no URL, or names an unknown database
        print(f"error: DATABASE_URL is not a database URL we can use ({_first_line(exc)}).", file=sys.stderr)
        return 2
    except sa.exc.OperationalError as exc:
        print(f"error: The database is not reachable ({_first_line(exc.orig or exc)}).", file=sys.stderr)
        return 3
    except ModuleNotFoundError as exc:  # DATABASE_URL names a driver that is not installed (mysql://)
        print(f"error: The module {exc.name} is not installed; is DATABASE_URL right?", file=sys.stderr)
        return 2
    except OSError as exc:  # the local storage folder (or the SQLite file's) cannot be read or written
        print(f"error: Cannot reach {exc.filename or 'storage'}: {exc.strerror or _first_line(exc)}.",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
