"""Refusals of the job queue.

    core.errors.QuotaExceeded
    ├── DailyQuotaReached       code "daily_quota"
    ├── TooManyActiveJobs       code "too_many_running"
    └── TooManyViews            code "too_many_views"
    core.errors.ValidationError
    ├── NoImages                code "no_images"
    ├── UnknownMode             code "unknown_mode"
    ├── UnknownOption           code "unknown_option"
    └── JobNotRequeueable       code "not_requeueable"
    core.errors.NotFound
    └── JobNotFound             code "job_not_found"
"""


from __future__ import annotations

import logging

import sqlalchemy as sa

from core.errors import NotFound, QuotaExceeded, ValidationError, VormError
from core.models import (
    GenerationJob,
)

log = logging.getLogger(__name__)

JOBS: sa.Table = GenerationJob.__table__  # type: ignore[attr-defined]



# --- errors ---------------------------------------------------------------


class DailyQuotaReached(QuotaExceeded):
    """You have used all {limit} generations of your plan for today. Try again after midnight (UTC), or upgrade to premium for more."""  # noqa: E501

    code = "daily_quota"


class TooManyActiveJobs(QuotaExceeded):
    """You already have {limit} generations queued or running. Wait until one has finished, or cancel one, then try again."""  # noqa: E501

    code = "too_many_running"


class TooManyViews(QuotaExceeded):
    """Your plan allows at most {limit} images per model; you gave {given}. Use fewer images, or upgrade to premium for up to {premium} views."""  # noqa: E501

    code = "too_many_views"


class NoImages(ValidationError):
    """Choose at least one image."""

    code = "no_images"


class UnknownMode(ValidationError):
    """Unknown mode: use auto, inflate, relief or carve."""

    code = "unknown_mode"


class UnknownOption(ValidationError):
    """Unknown generation option {name!r}."""

    code = "unknown_option"


class BoxNotApplicable(ValidationError):
    """A box around the object applies only to one image made with inflate (or automatic)."""

    code = "box_not_applicable"


class JobNotFound(NotFound):
    """That generation job does not exist."""

    code = "job_not_found"


class JobNotRequeueable(ValidationError):
    """Job {job_id} is {status}; only failed or cancelled jobs can be requeued."""

    code = "not_requeueable"


# --- why a job failed, when it is not the input's fault (stored as error_code; see core.errors.render_code) ---


class JobFailed(VormError):
    """The model could not be made. Please try again, or contact support."""

    code = "job_failed"


class JobCrashed(JobFailed):
    """The generation failed {attempts} times with an internal error and will not be retried. Try other images, or contact support."""  # noqa: E501

    code = "crashed"


class WorkerLost(JobFailed):
    """The worker running this job stopped responding too many times. Please try again."""

    code = "worker_lost"


class TemporaryProblem(JobFailed):
    """A temporary problem kept this generation from running. Please try again later."""

    code = "transient_gave_up"


class JobCancelled(JobFailed):
    """The generation was cancelled."""

    code = "cancelled"
