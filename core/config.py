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
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "change-me", "dev-secret-change-me", "sk_test_placeholder"})


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
    secret_key: str = "dev-secret-change-me"  # signs cookies, file URLs and one-time links
    session_days: float = 14.0
    stripe_secret_key: str = "sk_test_placeholder"
    stripe_webhook_secret: str = "whsec_placeholder"
    stripe_api_base: str | None = None  # tests point this at a local stub
    stripe_price_id: str = "price_premium_monthly"

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

    # Worker
    worker_concurrency: int = 1
    job_lease_seconds: int = 60
    job_max_attempts: int = 3
    device: Literal["auto", "cpu", "cuda"] = "auto"

    # Operations
    premium_price_cents: int = 0  # MRR for active subscribers without an invoice yet (0: shown as unpriced)
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
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()


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


def record_public_url(*, address: str, port: int) -> str:
    """Called by the web process at start with the address and port it listens on.

    Remembers ``http://HOST:PORT`` for this process and writes it to ``DATA_DIR`` for the worker,
    unless ``PUBLIC_URL`` is set. Returns the address users should open (``public_url()``).
    """
    settings = get_settings()
    if settings.public_url:
        return public_url()
    host = address.strip() or "localhost"
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
