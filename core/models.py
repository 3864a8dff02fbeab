"""Database tables.

Every table that holds data about a person has a ``user_id`` foreign key to
``user.id``: privacy export and erasure find those tables by that reference,
so a new table that forgets it is caught by the completeness tests.
Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes; SQLite gives them back naive, so they are re-tagged as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and dialect.name == "sqlite":
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def ts(*, nullable: bool = True, default: bool = False, index: bool = False) -> Any:
    """A timestamp column."""
    if default:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_field(default: Any = None) -> Any:
    factory = (lambda: dict(default)) if isinstance(default, dict) else (lambda: list(default or []))
    return Field(default_factory=factory, sa_type=sa.JSON, nullable=False)


def user_fk(*, nullable: bool = False) -> Any:
    return Field(default=None, foreign_key="user.id", index=True, nullable=nullable)


class Role(enum.StrEnum):
    USER = "user"  #: A customer
    ADMIN = "admin"  #: An operator: sees the metrics page


class Plan(enum.StrEnum):
    FREE = "free"  #: The default plan, with the free tier's limits
    PREMIUM = "premium"  #: A paid plan, billed through Stripe


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  #: Waiting for a worker
    RUNNING = "running"  #: Claimed by a worker that holds its lease
    SUCCEEDED = "succeeded"  #: Done; the model is stored
    FAILED = "failed"  #: Given up on; error_code and error_message say why
    CANCELLED = "cancelled"  #: Withdrawn by the user or an operator


# --- people -------------------------------------------------------------


class UserBase(SQLModel):
    # What a person tells us about themselves.
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True}, index=True)
    name: str = Field(default="", max_length=120)
    locale: str = Field(default="en", max_length=8)


class User(UserBase, table=True):
    # The account row.
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str
    role: str = Field(default=Role.USER, max_length=16)
    plan: str = Field(default=Plan.FREE, max_length=16)
    stripe_customer_id: str | None = Field(default=None, max_length=64, index=True)
    failed_logins: int = 0
    locked_until: datetime | None = ts()
    last_login_at: datetime | None = ts()
    policy_acknowledged_version: str | None = Field(default=None, max_length=32)
    created_at: datetime = ts(default=True, index=True)
    updated_at: datetime = ts(default=True)


class AuthSession(SQLModel, table=True):
    # A server-side login session; the cookie only carries its id, so revoking the row ends it.
    __tablename__ = "auth_session"
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = user_fk()
    created_at: datetime = ts(default=True)
    expires_at: datetime = ts(nullable=False)
    last_seen_at: datetime | None = ts()
    revoked_at: datetime | None = ts()
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=512)


class AccessEvent(SQLModel, table=True):
    # IP and browser at login and upload (policy clause 1), for fraud prevention (clause 2).
    __tablename__ = "access_event"
    # Active users over a window: a range on the time, the user from the index alone (0004).
    __table_args__ = (sa.Index("ix_access_created_user", "created_at", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = user_fk(nullable=True)
    kind: str = Field(max_length=32)  # login, login_failed, logout, upload, ...
    reason: str | None = Field(default=None, max_length=64)
    ip: str | None = Field(default=None, max_length=64)
    ip_truncated: bool = False
    user_agent: str | None = Field(default=None, max_length=512)
    created_at: datetime = ts(default=True, index=True)


class OneTimeToken(SQLModel, table=True):
    # Password-reset and email-change links; only the hash is stored.
    __tablename__ = "one_time_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    purpose: str = Field(max_length=32)
    token_hash: str = Field(max_length=128, index=True)
    new_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = ts(default=True)
    expires_at: datetime = ts(nullable=False)
    used_at: datetime | None = ts()


# --- content ------------------------------------------------------------


class Upload(SQLModel, table=True):
    # One stored input image, metadata stripped.
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    storage_key: str = Field(max_length=512)
    filename: str = Field(default="", max_length=255)
    content_type: str = Field(default="image/png", max_length=64)
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    sha256: str = Field(default="", max_length=64)
    created_at: datetime = ts(default=True, index=True)


class GenerationJob(SQLModel, table=True):
    # A queued, running or finished generation.
    __tablename__ = "generation_job"
    __table_args__ = (
        sa.Index("ix_job_claim", "status", "priority", "id"),
        # Claim order (highest priority, then oldest) straight from an index, however long the queue (0002).
        sa.Index("ix_job_queued_order", sa.text("priority DESC"), "id",
                 postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'")),
        # The admin page: jobs per period by status, and each worker's recent throughput (0004).
        sa.Index("ix_job_created_status", "created_at", "status"),
        sa.Index("ix_job_finished_worker", "finished_at", "worker_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    status: str = Field(default=JobStatus.QUEUED, max_length=16, index=True)
    mode: str = Field(default="auto", max_length=16)
    name: str = Field(default="", max_length=255)
    options: dict[str, Any] = json_field({})
    upload_ids: list[int] = json_field([])
    priority: int = 0
    progress_stage: str | None = Field(default=None, max_length=32)
    progress_pct: int = 0
    attempts: int = 0
    max_attempts: int = 3
    run_after: datetime | None = ts()
    lease_expires_at: datetime | None = ts()
    worker_id: str | None = Field(default=None, max_length=128)
    error_code: str | None = Field(default=None, max_length=64)
    #: Why it failed: users see error_code's message filled with error_params (core.errors.render_code),
    #: in their language; error_message is the English detail for operators.
    error_message: str | None = Field(default=None, max_length=1000)
    error_params: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)  #: for users
    stats: dict[str, Any] = json_field({})
    model_id: int | None = None
    created_at: datetime = ts(default=True, index=True)
    started_at: datetime | None = ts()
    finished_at: datetime | None = ts()


class Model3D(SQLModel, table=True):
    # A generated model and where its files live.
    __tablename__ = "model3d"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    job_id: int | None = Field(default=None, index=True)
    name: str = Field(default="", max_length=255)
    mode: str = Field(default="inflate", max_length=16)  #: the mode the engine used (never "auto")
    storage_prefix: str = Field(max_length=512)
    glb_key: str = Field(max_length=512)
    preview_key: str | None = Field(default=None, max_length=512)
    thumbnail_keys: dict[str, str] = json_field({})
    faces: int = 0
    watertight: bool = False
    extents: list[float] = json_field([])  #: of the stored mesh, in its own units (normalised or mm)
    #: The longest side when printed, in mm; the downloads are scaled to it (0010). Slicers read mm.
    print_size_mm: float = Field(default=100.0, sa_column_kwargs={"server_default": "100"})
    stats: dict[str, Any] = json_field({})
    created_at: datetime = ts(default=True, index=True)


# --- billing ------------------------------------------------------------


class Subscription(SQLModel, table=True):
    # Stripe references only; card data never reaches us.
    __table_args__ = (sa.Index("ix_subscription_status", "status"),)  # active subscriptions and MRR (0004)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    stripe_customer_id: str = Field(max_length=64, index=True)
    stripe_subscription_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    status: str = Field(default="active", max_length=32)
    current_period_end: datetime | None = ts()
    ended_at: datetime | None = ts()
    # Stripe's time of the newest event applied: an older one arriving late must not undo it.
    last_event_at: datetime | None = ts()
    stripe_price_id: str | None = Field(default=None, max_length=64)
    # Cancelled in the portal: it runs to current_period_end, then Stripe ends it.
    cancel_at_period_end: bool = False
    # When the payment first failed; premium lasts PAST_DUE_GRACE_DAYS from here (core.billing.entitlements).
    past_due_since: datetime | None = ts()
    created_at: datetime = ts(default=True)
    updated_at: datetime = ts(default=True)


class InvoiceRecord(SQLModel, table=True):
    # Kept after erasure because bookkeeping law requires it; the user link is cut then.
    __tablename__ = "invoice_record"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = user_fk(nullable=True)
    stripe_invoice_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    amount_cents: int = Field(default=0, sa_type=sa.BigInteger)  # cents in 64 bits, as Stripe counts them
    currency: str = Field(default="eur", max_length=8)
    created_at: datetime = ts(default=True)


class CheckoutSession(SQLModel, table=True):
    # A Stripe Checkout Session we opened: reused while open, so that a double click makes one.
    __tablename__ = "checkout_session"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    stripe_session_id: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    url: str = Field(max_length=2048)
    status: str = Field(default="open", max_length=16)  # open, complete, expired
    created_at: datetime = ts(default=True)
    expires_at: datetime = ts(nullable=False)


class WebhookEvent(SQLModel, table=True):
    # Stripe event ids already handled, so a replayed webhook does nothing twice.
    __tablename__ = "webhook_event"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=64)
    received_at: datetime = ts(default=True)


# --- privacy ------------------------------------------------------------


class PolicyVersion(SQLModel, table=True):
    # A published version of the privacy policy; the texts live in the repo.
    __tablename__ = "policy_version"
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    last_updated: str = Field(max_length=10)  # ISO date as printed in the text
    material: bool = False
    published_at: datetime = ts(default=True)


class PolicyAcceptance(SQLModel, table=True):
    # Who accepted or acknowledged which policy version, and when.
    __tablename__ = "policy_acceptance"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    version: str = Field(max_length=32)
    accepted_at: datetime = ts(default=True)


class PrivacyRequest(SQLModel, table=True):
    # A data-subject request, tracked against the one-month legal deadline.
    __tablename__ = "privacy_request"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    kind: str = Field(max_length=16)  # access, correction, deletion, objection, other
    status: str = Field(default="open", max_length=16)
    details: str = Field(default="", max_length=4000)
    export_key: str | None = Field(default=None, max_length=512)
    export_expires_at: datetime | None = ts()
    created_at: datetime = ts(default=True)
    due_at: datetime = ts(nullable=False, index=True)
    resolved_at: datetime | None = ts()
    #: What was done, written by the admin who resolved it; the user reads it on "My data".
    resolution_note: str | None = Field(default=None, max_length=4000)


class SupportTicket(SQLModel, table=True):
    # A message to support from the contact form.
    __tablename__ = "support_ticket"
    __table_args__ = (sa.Index("ix_support_ticket_status", "status", "updated_at"),)  # the inbox's filter (0004)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = user_fk(nullable=True)
    email: str = Field(max_length=254)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=10000)
    status: str = Field(default="open", max_length=16)
    privacy_request_id: int | None = None
    created_at: datetime = ts(default=True)
    updated_at: datetime = ts(default=True)


class SupportMessage(SQLModel, table=True):
    # A message in a ticket's thread after the first one (the ticket's body): support's reply or the user's answer.
    __tablename__ = "support_message"
    id: int | None = Field(default=None, primary_key=True)
    # Deleting a ticket (erasure by email) takes its thread with it.
    ticket_id: int = Field(foreign_key="support_ticket.id", ondelete="CASCADE", index=True)
    user_id: int | None = user_fk(nullable=True)  # the ticket's owner: whom the thread is about
    author: str = Field(max_length=16)  # "user" or "support"
    #: The admin who wrote a reply; no foreign key, so erasing that admin leaves the user's thread whole.
    admin_id: int | None = None
    body: str = Field(max_length=10000)
    created_at: datetime = ts(default=True)


class OutboxMessage(SQLModel, table=True):
    # A transactional email waiting for, or past, SMTP delivery.
    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = user_fk(nullable=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=255)
    body: str
    kind: str = Field(max_length=32)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime | None = ts()
    created_at: datetime = ts(default=True)
    sent_at: datetime | None = ts()


class AuditLog(SQLModel, table=True):
    # What happened, for accountability. Erasure cuts the user link; details carry no personal data.
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = user_fk(nullable=True)
    actor: str = Field(default="system", max_length=64)
    action: str = Field(max_length=64, index=True)
    details: dict[str, Any] = json_field({})
    created_at: datetime = ts(default=True, index=True)


# --- the public API and outgoing webhooks ---------------------------------


class ApiKey(SQLModel, table=True):
    # A key for the public API; only its SHA-256 is stored (keys are random, so no slow hash is needed).
    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    name: str = Field(default="", max_length=100)
    prefix: str = Field(max_length=16)  #: the key's first characters, shown to tell keys apart
    key_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = ts(default=True)
    last_used_at: datetime | None = ts()
    revoked_at: datetime | None = ts()


class ApiRateWindow(SQLModel, table=True):
    # Requests one key made in one fixed window: the shared counter every web process increments.
    __tablename__ = "api_rate_window"
    key_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    window_start: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  #: epoch seconds
    count: int = 0


class IdempotencyRecord(SQLModel, table=True):
    # An Idempotency-Key a client sent with POST /api/v1/jobs, and the job it made.
    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    job_id: int | None = None
    created_at: datetime = ts(default=True, index=True)


class WebhookEndpoint(SQLModel, table=True):
    # A URL a user wants events sent to, and the secret deliveries are signed with.
    __tablename__ = "webhook_endpoint"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    url: str = Field(max_length=2048)
    event_types: list[str] = json_field([])
    secret: str = Field(max_length=128)  #: whsec_...; deliveries are signed with it
    #: The secret before the last rotation; deliveries carry both signatures until it expires.
    previous_secret: str | None = Field(default=None, max_length=128)
    previous_secret_expires_at: datetime | None = ts()
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=255)
    consecutive_failures: int = 0
    created_at: datetime = ts(default=True)


class WebhookDelivery(SQLModel, table=True):
    # One event for one endpoint: the durable outbox the worker delivers from, and the user's delivery log.
    __tablename__ = "webhook_delivery"
    __table_args__ = (sa.UniqueConstraint("endpoint_id", "event_key"),
                      sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"))
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = user_fk()
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", ondelete="CASCADE", index=True)
    event_type: str = Field(max_length=32)
    #: What the event is about (job.7.succeeded): one delivery per endpoint and event, however often it is seen.
    event_key: str = Field(max_length=128)
    message_id: str = Field(max_length=64)  #: the webhook-id header; the same on every attempt
    payload: dict[str, Any] = json_field({})
    status: str = Field(default="pending", max_length=16)  # pending, delivered, failed
    attempts: int = 0
    next_attempt_at: datetime | None = ts()
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    response_body: str | None = Field(default=None, max_length=1024)
    created_at: datetime = ts(default=True, index=True)
    delivered_at: datetime | None = ts()


# --- operations ---------------------------------------------------------


class WorkerHeartbeat(SQLModel, table=True):
    # A live worker process; stalled workers are found by heartbeats that stopped.
    __tablename__ = "worker_heartbeat"
    worker_id: str = Field(primary_key=True, max_length=128)
    hostname: str = Field(default="", max_length=255)
    pid: int = 0
    device: str = Field(default="cpu", max_length=64)
    # The learned background remover this worker runs (a model's name), or "grabcut" without one.
    segmenter: str = Field(default="grabcut", max_length=64, sa_column_kwargs={"server_default": "grabcut"})
    #: The kinds of job it takes (core.jobs.kinds, comma-separated); empty: all.
    modes: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    concurrency: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    started_at: datetime = ts(default=True)
    last_seen_at: datetime = ts(default=True)


class MaintenanceRun(SQLModel, table=True):
    # One run of a scheduled maintenance job per slot; the unique slot makes it run once per fleet.
    __tablename__ = "maintenance_run"
    __table_args__ = (sa.UniqueConstraint("name", "slot"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    slot: str = Field(max_length=32)
    worker_id: str = Field(default="", max_length=128)
    started_at: datetime = ts(default=True)
    finished_at: datetime | None = ts()
    result: dict[str, Any] = json_field({})


def pk(row: Any) -> int:
    """The primary key of a flushed row, typed as int (SQLModel types it Optional until insert)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet (flush first)")
    return int(row.id)


def user_tables() -> list[sa.Table]:
    """Every table with a foreign key to ``user.id`` (export and erasure walk these)."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        if any(fk.column.table.name == "user" for fk in table.foreign_keys):
            found.append(table)
    return found
