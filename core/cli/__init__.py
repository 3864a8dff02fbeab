"""Subcommands of ``python -m core.manage``, one module per area.

Each module has ``register(subparsers)`` that adds its commands; a command's
handler takes the parsed args and returns an exit code. Handlers raise
VormError for bad input; ``core.manage`` turns it into one line on stderr.
Numbers on the command line are parsed by ``row_id`` and ``whole_number``: a
number the database cannot hold, or one that would run for hours, is a usage
error (one line, exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.ids import MAX_ID, parse_id

COMMAND_MODULES = (
    "core.cli.accounts",
    "core.cli.billing",
    "core.cli.jobs",
    "core.cli.privacy",
    "core.cli.support",
    "core.cli.mail",
    "core.cli.admin",
    "core.cli.models",
    "core.cli.api",
)


def row_id(kind: str) -> Callable[[str], int]:
    """argparse type: the id of a ``kind`` row that the database can hold."""
    def parse(text: str) -> int:
        number = parse_id(text)
        if number is None:
            raise argparse.ArgumentTypeError(f"not a {kind} id: {text!r} (a whole number from 1 to {MAX_ID})")
        return number

    return parse


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """argparse type: a whole number in ASCII digits from ``low`` to ``high``."""
    def parse(text: str) -> int:
        digits = text.strip().removeprefix("-")
        number = int(text) if digits.isascii() and digits.isdigit() and len(digits) <= 20 else None
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, not {text!r}")
        return number

    return parse
