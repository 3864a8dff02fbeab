"""Job kinds: which workers take which generation jobs.

A job's kind follows from what it records, so the same rule runs in Python and in the claim's SQL:

- its mode as the engine runs it (``auto`` is ``inflate`` for one image and ``carve`` for several,
  as ``core.generation.modes.resolve_mode`` decides): ``inflate``, ``relief`` or ``carve``;
- except ``large``: a job whose processing resolution squared times its images exceeds
  ``large_job_megapixels`` (default 2: a premium carve at 1024 px with two views or more; no free job).

A worker takes the kinds in ``--modes`` / ``WORKER_MODES`` (empty: all of them). A GPU machine
takes ``carve,large``, CPU machines ``inflate,relief``. A job no live worker takes stays queued;
the admin page names its kind (``core.admin.metrics.untaken_jobs``).

Every worker and web process must share ``large_job_megapixels`` (the same environment), or a job
may look large to one and small to another; it is then still claimed, by whichever takes the kind it sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from core.config import get_settings
from core.models import GenerationJob

JOBS: sa.Table = GenerationJob.__table__  # type: ignore[attr-defined]

KINDS = ("inflate", "relief", "carve", "large")  #: shown through core.labels ("job_kind")


class UnknownKind(ValueError):
    """A worker was told to take a kind of job that does not exist."""


def parse_kinds(text: str | Iterable[str] | None) -> frozenset[str]:
    """``"carve, large"`` → {"carve", "large"}; empty or "all": every kind. Raises UnknownKind."""
    items = text.split(",") if isinstance(text, str) else list(text or ())
    names = {n.strip().lower() for n in items if n and n.strip()}
    if not names or names == {"all"}:
        return frozenset(KINDS)
    unknown = sorted(names - set(KINDS))
    if unknown:
        raise UnknownKind(f"unknown job kind(s) {', '.join(unknown)}; the kinds are {', '.join(KINDS)}")
    return frozenset(names)


def format_kinds(kinds: Iterable[str]) -> str:
    """Kinds in their fixed order, comma-separated (the heartbeat row stores this)."""
    chosen = set(kinds)
    return ",".join(k for k in KINDS if k in chosen)


def large_pixels() -> float:
    return float(get_settings().large_job_megapixels) * 1_000_000


def job_kind(*, mode: str, views: int, resolution: float | None) -> str:
    """The kind of a job with this mode, number of images and processing resolution (px)."""
    if float(resolution or 0) ** 2 * views > large_pixels():
        return "large"
    if mode == "auto":
        return "inflate" if views <= 1 else "carve"
    return mode


def kind_of(job: GenerationJob) -> str:
    return job_kind(mode=job.mode, views=len(job.upload_ids or []), resolution=(job.options or {}).get("resolution"))


def kind_expression(pixels: float | None = None) -> Any:
    """``job_kind`` as a SQL expression over generation_job (PostgreSQL and SQLite); ``pixels``: the large size."""
    pixels = large_pixels() if pixels is None else pixels
    views = sa.func.json_array_length(JOBS.c.upload_ids)
    resolution = sa.func.coalesce(JOBS.c.options["resolution"].as_float(), 0.0)
    mode = sa.case((JOBS.c.mode == "auto", sa.case((views > 1, "carve"), else_="inflate")), else_=JOBS.c.mode)
    return sa.case((resolution * resolution * views > sa.literal(pixels, sa.Float), "large"), else_=mode)
