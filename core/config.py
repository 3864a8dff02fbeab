"""One settings object for both processes.

Values come from the environment, then `.env`, then `.streamlit/secrets.toml`
(flat keys, or a `[vorm]` table), then the defaults below. The defaults run
the product embedded: a SQLite file, a local storage folder, the CPU.
"""

from __future__ import annotations

import functools
import logging
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SECRETS_TOML = ROOT / ".streamlit" / "secrets.toml"
log = logging.getLogger(__name__)

#: Secrets that ship in examples; refused outside development.
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "change-me", "sk_test_placeholder"})
#: Words that mark a value as an example someone published, never a secret.
_PLACEHOLDER_WORDS = ("placeholder", "change-me", "changeme", "changethis", "change-this")


class _SecretsTomlSource(PydanticBaseSettingsSource):
    """Reads `.streamlit/secrets.toml`, so one secrets file serves Streamlit and the worker."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path.is_file():
            raw = tomllib.loads(path.read_text())
            table = raw.get("vorm", raw)
            self._data = {k.lower(): v for k, v in table.items() if not isinstance(v, dict)}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name.lower()), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Runtime
    environment: Literal["development", "production", "test"] = "development"
    public_url: str = ""  # empty: the web process's own address (see public_url() below)
    data_dir: Path = ROOT / "var"
    log_level: str = "INFO"

    # Database
    database_url: str = ""  # empty: SQLite file under data_dir

    # Object storage
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path | None = None  # local backend; default data_dir/storage
    s3_bucket: str = ""
    s3_region: str = "eu-west-1"
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_sse: Literal["", "AES256", "aws:kms"] = ""
    s3_kms_key_id: str | None = None
    presign_seconds: int = 300

    # Secrets
    secret_key: str = ""  # signs cookies, file URLs and one-time links; empty: DATA_DIR/secret-key (secret_key())
    session_days: float = 14.0
    stripe_secret_key: str = "sk_test_placeholder"
    stripe_webhook_secret: str = "whsec_placeholder"
    stripe_api_base: str | None = None  # tests point this at a local stub
    stripe_price_id: str = "price_premium_monthly"
    # A failed payment (subscription past_due) keeps premium this long while Stripe retries and the
    # user updates the card; then the plan is free and the retention clock starts.
    past_due_grace_days: float = 7.0

    # Mail
    smtp_host: str = ""  # empty: mails stay in the outbox
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "Vorm <no-reply@vorm.local>"
    support_email: str = "support@vorm.local"

    # Login protection
    max_failed_logins: int = 5
    lockout_minutes: float = 15.0
    reset_token_minutes: int = 60
    # Reset mails: at most this many to one address, and this many requests from one client IP, per hour.
    reset_mails_per_address_per_hour: int = 3
    reset_requests_per_ip_per_hour: int = 10

    # Tiers
    free_daily_generations: int = 5
    premium_daily_generations: int = 200
    free_max_views: int = 4
    premium_max_views: int = 64
    free_resolution_px: int = 512
    premium_resolution_px: int = 1024
    free_formats: list[str] = Field(default_factory=lambda: ["glb", "obj", "stl"])
    premium_formats: list[str] = Field(default_factory=lambda: ["glb", "obj", "stl", "ply", "3mf"])
    free_max_upload_mb: float = 10.0
    premium_max_upload_mb: float = 40.0
    max_running_jobs_per_user: int = 2
    retention_days: int = 30
    # Storage objects without a database row (a worker killed between writing and committing) are
    # deleted by the daily maintenance once they are this old; younger ones may be a write in flight.
    orphan_grace_hours: float = 24.0

    # Worker
    worker_concurrency: int = 1
    # The kinds of job this worker takes (core.jobs.kinds), comma-separated: inflate, relief, carve, large.
    # Empty: all. A GPU machine might take "carve,large" and CPU machines "inflate,relief".
    worker_modes: str = ""
    # A job is "large" when its resolution squared times its images exceeds this many megapixels
    # (2: a premium carve of two views or more at 1024 px). Every process must share it.
    large_job_megapixels: float = Field(default=2.0, gt=0)
    # Idle workers look for due jobs this often; on PostgreSQL a NOTIFY wakes them at once too.
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    # PostgreSQL: each worker LISTENs for queued jobs, so a job starts within milliseconds instead of
    # at the next poll. Off: polling only (SQLite always polls).
    worker_listen: bool = True
    job_lease_seconds: int = 60
    job_max_attempts: int = 3
    # A transient failure (storage or database unreachable) is not the job's fault: it backs off
    # without using an attempt, retrying at most every job_transient_retry_max_seconds, and fails
    # only when the trouble has lasted job_transient_deadline_seconds since its first transient failure.
    job_transient_deadline_seconds: float = 3600.0
    job_transient_retry_max_seconds: float = 30.0
    device: Literal["auto", "cpu", "cuda"] = "auto"

    # Learned background removal (ONNX files pulled by `python -m core.manage models pull NAME`)
    models_dir: Path | None = None  # default data_dir/models
    models_base_url: str = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"
    # name -> md5 replacing a pinned checksum: a mirror that re-exported a file, or a test's own model.
    models_checksums: dict[str, str] = Field(default_factory=dict)
    models_download_timeout_seconds: float = 30.0
    segmenter: str = "auto"  # auto: the best installed model; none: never; or a model's name

    # Public API and webhooks
    # Requests per minute and key, per plan; counted in the database, so the limit holds across web processes.
    free_api_requests_per_minute: int = 60
    premium_api_requests_per_minute: int = 600
    # Webhook URLs may resolve to loopback, private or link-local addresses (self-hosted receivers, tests).
    webhooks_allow_private: bool = False

    # Operations
    # The premium price as Vorm knows it without Stripe: the Account and upload pages show it when
    # Stripe's Price (STRIPE_PRICE_ID) cannot be read, and the MRR counts subscribers without an invoice
    # at it. 0: unknown (no price is shown rather than a wrong one; such subscribers are unpriced).
    premium_price_cents: int = Field(default=0, ge=0)
    premium_price_currency: str = Field(default="eur", pattern=r"^[A-Za-z]{3}$")
    premium_price_interval: Literal["day", "week", "month", "year"] = "month"
    metrics_token: str = ""  # bearer token for GET /metrics (Prometheus); empty: /metrics answers 404

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("VORM_SECRETS_FILE", SECRETS_TOML))
        return (init_settings, env_settings, dotenv_settings, _SecretsTomlSource(settings_cls, path))

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str) -> str:
        # PaaS hosts hand out postgres://; SQLAlchemy wants an explicit driver.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.secret_key and any(word in self.secret_key.lower() for word in _PLACEHOLDER_WORDS):
            # Anyone can sign cookies and file links with a published value, in any environment.
            raise ValueError("SECRET_KEY is an example value that anyone can read: leave it unset (Vorm then "
                             "keeps a random key in DATA_DIR/secret-key) or set a long random secret")
        if self.environment == "production":
            for name in ("secret_key", "stripe_webhook_secret"):
                value = getattr(self, name)
                if value in PLACEHOLDER_SECRETS or "placeholder" in value or len(value) < 16:
                    raise ValueError(f"{name.upper()} must be set to a real secret in production")
            if not self.public_url:
                raise ValueError("PUBLIC_URL must be set in production: the address users open, the base of every link")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise ValueError("S3_BUCKET is required when STORAGE_BACKEND=s3")
        return self

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'vorm.db'}"

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def local_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "storage"

    def tier(self, plan: str) -> dict[str, Any]:
        """The limits of a plan, by name."""
        p = "premium" if plan == "premium" else "free"
        return {
            "daily_generations": getattr(self, f"{p}_daily_generations"),
            "max_views": getattr(self, f"{p}_max_views"),
            "resolution_px": getattr(self, f"{p}_resolution_px"),
            "formats": list(getattr(self, f"{p}_formats")),
            "max_upload_bytes": int(getattr(self, f"{p}_max_upload_mb") * 1024 * 1024),
            "priority": 10 if p == "premium" else 0,
        }


@functools.cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ConfigError(f"Configuration error: {exc}") from exc


def reset_settings() -> None:
    """Forget the cached settings and keys (tests change the environment between cases)."""
    get_settings.cache_clear()
    _secret_keys.clear()


# --- the secret key ---------------------------------------------------------------------

#: Under DATA_DIR: the random key made on first start when SECRET_KEY is not set (mode 0600).
SECRET_KEY_FILE = "secret-key"
SECRET_KEY_BYTES = 48  # random bytes in a made key (64 URL-safe characters)
_KEY_READ_ATTEMPTS = 50  # a key file found empty is read again, 0.1 s apart, before giving up

_secret_keys: dict[Path, str] = {}  # data_dir -> the key read from or written to its file


def secret_key() -> str:
    """The key that signs session cookies, file links and one-time links.

    ``SECRET_KEY`` when it is set (required in production). Otherwise a random key made on the
    first start and kept in ``DATA_DIR/secret-key`` (mode 0600), which the web process and the
    worker share; there is no built-in default anyone could read. Two processes starting at once
    end up with the same key: the file appears whole or not at all (written aside, then
    hard-linked into place, which fails if it exists), and the loser reads the winner's key.
    """
    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / SECRET_KEY_FILE
    key = _secret_keys.get(path)
    if key is None:
        key = _secret_keys[path] = _load_or_make_key(path)
    return key


def _load_or_make_key(path: Path) -> str:
    import secrets
    import time

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _publish_key(path, secrets.token_urlsafe(SECRET_KEY_BYTES))
        for _ in range(_KEY_READ_ATTEMPTS):
            key = path.read_text().strip()
            if key:
                break
            time.sleep(0.1)  # made by a process without hard links (see _publish_key), still writing
        if os.stat(path).st_mode & 0o077:
            log.warning("%s could be read by other users; making it private (0600)", path)
            os.chmod(path, 0o600)
    except OSError as exc:
        raise ConfigError(f"Could not keep the secret key in {path} ({exc}): make DATA_DIR writable or set "
                          "SECRET_KEY") from exc
    if len(key) < 32:
        raise ConfigError(f"The secret key in {path} is empty or too short: delete the file to make a new one "
                          "(everyone is logged out), or set SECRET_KEY")
    return key


def _publish_key(path: Path, key: str) -> None:
    """Create ``path`` holding ``key``, unless it exists (then leave the other process's key alone)."""
    import secrets

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and refuses to replace: the first process's key wins
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: exclusive create, readers wait for the content
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return
            with os.fdopen(fd, "w") as fh:
                fh.write(key + "\n")
    finally:
        tmp.unlink(missing_ok=True)


# --- the address users open -----------------------------------------------------------

#: Where ``make run`` serves the web app; the fallback before any web process has said where it listens.
DEFAULT_PUBLIC_URL = "http://localhost:8501"
#: Under DATA_DIR: the address the web process listens on, written at its start for the worker.
PUBLIC_URL_FILE = "public-url"

_recorded: dict[Path, str] = {}  # data_dir -> this web process's own address


def public_url() -> str:
    """The base of every link we hand out (signed file URLs, emailed links), without a trailing slash.

    ``PUBLIC_URL`` when it is set (a proxy, a domain; required in production). Otherwise the
    address the web process really listens on, so that links work on a fresh ``make run``
    whatever port honcho or a PaaS gave it: the web process records it at start
    (``record_public_url``) in ``DATA_DIR``, where the worker reads it. Before any web process
    has started: ``DEFAULT_PUBLIC_URL``.
    """
    settings = get_settings()
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if settings.data_dir in _recorded:
        return _recorded[settings.data_dir]
    try:
        recorded = (settings.data_dir / PUBLIC_URL_FILE).read_text().strip()
    except OSError:
        recorded = ""
    return recorded.rstrip("/") or DEFAULT_PUBLIC_URL


def record_public_url(*, address: str | None, port: int) -> str:
    """Called by the web process at start with the address and port it listens on.

    Remembers ``http://HOST:PORT`` for this process and writes it to ``DATA_DIR`` for the worker,
    unless ``PUBLIC_URL`` is set. Returns the address users should open (``public_url()``).
    """
    settings = get_settings()
    if settings.public_url:
        return public_url()
    # None: no --server.address, Streamlit's plain start, which listens on every interface.
    host = (address or "").strip() or "localhost"
    if host in ("0.0.0.0", "::"):  # every interface: this machine's own name for it
        host = "localhost"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    url = f"http://{host}:{port}"
    _recorded[settings.data_dir] = url
    path = settings.data_dir / PUBLIC_URL_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{PUBLIC_URL_FILE}.{os.getpid()}")
        tmp.write_text(url + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("Could not record the web address in %s (%s): the worker's links will not "
                    "follow it; set PUBLIC_URL", path, exc)
    return url
