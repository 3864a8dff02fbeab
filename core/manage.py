"""Operator CLI: ``python -m core.manage COMMAND``. Run with ``--help`` for the commands.

Exit codes: 0 success, 2 bad input, 3 database or storage unreachable.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import sqlalchemy as sa

from core.cli import COMMAND_MODULES
from core.errors import TransientError, VormError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.manage", description="Vorm operator commands")
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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TransientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except VormError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sa.exc.OperationalError as exc:
        print(f"error: The database is not reachable ({str(exc.orig).strip().splitlines()[0]}).", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
