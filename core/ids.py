"""Row ids typed by people (URLs, CLI arguments), checked before they reach a query.

Primary keys are INTEGER columns: 32-bit signed in PostgreSQL, 64-bit in SQLite. An id
outside that range is not "not found" to the database but an error (an OverflowError in
sqlite3, NumericValueOutOfRange in PostgreSQL), so ids are parsed here first.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER; SQLite's is wider, so this bound holds for both


def parse_id(value: object) -> int | None:
    """``value`` as a row id (1 to MAX_ID), or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        # Only ASCII digits: int() would also take "1_000", "+5" and other scripts' digits.
        if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
            return None
        number = int(text)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None
