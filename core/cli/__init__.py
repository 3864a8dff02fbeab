"""Subcommands of ``python -m core.manage``, one module per area.

Each module has ``register(subparsers)`` that adds its commands; a command's
handler takes the parsed args and returns an exit code. Handlers raise
VormError for bad input; ``core.manage`` turns it into one line on stderr.
"""

COMMAND_MODULES = (
    "core.cli.accounts",
    "core.cli.billing",
    "core.cli.jobs",
    "core.cli.privacy",
    "core.cli.support",
    "core.cli.admin",
    "core.cli.api",
)
