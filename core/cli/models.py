"""Segmenter files: ``models pull NAME``, ``models list``, ``models remove NAME``.

``pull --if-missing --quiet-offline`` is what ``make run`` does: one try at the small default, and
when the network is not there one line saying so; the engine then uses its classical methods.
"""

from __future__ import annotations

import argparse
import sys

from core.config import get_settings
from core.errors import TransientError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from core.generation.learned import DEFAULT_MODEL, MODELS

    p = sub.add_parser("models", help="learned background removal: pull, list or remove ONNX segmenter files")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    pull = msub.add_parser("pull", help=f"download a segmenter into MODELS_DIR and verify it ({', '.join(MODELS)})")
    pull.add_argument("name", nargs="?", default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}")
    pull.add_argument("--if-missing", action="store_true", help="do nothing when any segmenter is installed")
    pull.add_argument("--quiet-offline", action="store_true",
                      help="when the download fails, say so in one line and exit 0 (make run)")
    pull.add_argument("--timeout", type=float, default=None, help="seconds per network read")
    pull.set_defaults(func=cmd_pull)
    msub.add_parser("list", help="installed segmenters, their size and licence").set_defaults(func=cmd_list)
    rm = msub.add_parser("remove", help="delete a segmenter's file")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove)


def cmd_pull(args: argparse.Namespace) -> int:
    from core.generation import model_files

    settings = get_settings()
    directory = settings.models_path
    model_files.spec(args.name)  # an unknown name is bad input, even offline
    if args.if_missing and model_files.listing(directory):
        return 0
    timeout = args.timeout or settings.models_download_timeout_seconds
    try:
        model_files.pull(args.name, directory=directory, base_url=settings.models_base_url, timeout=timeout,
                          attempts=1 if args.quiet_offline else model_files.RESUME_ATTEMPTS)
    except TransientError as exc:
        if not args.quiet_offline:
            raise
        print(f"Segmenter {args.name} not installed ({str(exc).split(';')[0]}); using GrabCut. "
              f"Later: python -m core.manage models pull {args.name}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from core.generation import learned, model_files

    directory = get_settings().models_path
    rows = model_files.listing(directory)
    if not rows:
        print(f"No segmenter installed in {directory}; masks come from GrabCut and the plain-backdrop method.")
        return 0
    in_use = learned.active_name()
    for row in rows:
        mark = "  (in use)" if row.name == in_use else ""
        print(f"{row.name:<24} {row.size_bytes / 1e6:8.1f} MB  {row.licence:<11} {row.filename}{mark}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from core.generation import model_files

    if model_files.remove(args.name, directory=get_settings().models_path):
        print(f"Removed {args.name}.")
    else:
        print(f"{args.name} was not installed.")
    return 0
