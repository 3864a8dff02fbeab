"""The API's JSON shapes (pydantic), as the OpenAPI document shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

JobStatusName = Literal["queued", "running", "succeeded", "failed", "canceled"]
EventType = Literal["job.succeeded", "job.failed", "job.canceled", "model.deleted", "webhook.test"]


class Problem(BaseModel):
    # An error, as RFC 9457 problem details; ``code`` is ours and stable, ``detail`` is in the asked language.

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, object]] | None = None


class JobError(BaseModel):
    code: str
    message: str


class Job(BaseModel):
    id: int
    status: JobStatusName
    mode: str
    name: str
    progress: int = Field(description="0 to 100")
    stage: str | None
    queue_position: int | None = Field(description="jobs a worker takes before this one (0: next); only when queued")
    model_id: int | None
    error: JobError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobList(BaseModel):
    data: list[Job]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; null on the last")


class Model(BaseModel):
    id: int
    name: str
    mode: str
    job_id: int | None
    faces: int
    size_bytes: int | None = Field(description="of the GLB")
    extents: list[float]
    watertight: bool
    created_at: datetime
    downloads: dict[str, str] = Field(description="format -> a signed URL that expires in minutes; your plan's formats")


class ModelList(BaseModel):
    data: list[Model]
    next_cursor: str | None


class ModelRename(BaseModel):
    name: str = Field(min_length=1, max_length=255)


class Quota(BaseModel):
    daily_limit: int
    used_today: int
    left_today: int


class Account(BaseModel):
    email: str
    name: str
    plan: str
    quota: Quota
    requests_per_minute: int
    formats: list[str]


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://[^\s/]+",
                     description="https:// (or http://) on a public address")
    event_types: list[EventType] = Field(min_length=1)


class Webhook(BaseModel):
    id: int
    url: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


class WebhookWithSecret(Webhook):
    secret: str = Field(description="whsec_...; shown this once")


class WebhookList(BaseModel):
    data: list[Webhook]


class Delivery(BaseModel):
    id: int
    endpoint_id: int
    event_type: str
    message_id: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None


class DeliveryList(BaseModel):
    data: list[Delivery]
