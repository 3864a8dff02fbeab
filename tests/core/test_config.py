import pytest

from core.config import get_settings, reset_settings
from core.errors import ConfigError


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    reset_settings()
    yield
    reset_settings()


def test_defaults_run_embedded(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    s = get_settings()
    assert s.db_url == f"sqlite:///{tmp_path / 'vorm.db'}"
    assert s.storage_backend == "local" and s.local_storage_dir == tmp_path / "storage"
    assert s.tier("free")["daily_generations"] == 5 and s.tier("premium")["max_views"] == 64
    assert s.tier("free")["formats"] == ["glb", "obj", "stl"]


@pytest.mark.parametrize("url", ["postgres://u:p@db:5432/vorm", "postgresql://u:p@db:5432/vorm"])
def test_heroku_style_postgres_urls_are_accepted(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    assert get_settings().db_url == "postgresql+psycopg://u:p@db:5432/vorm"


def test_placeholder_secrets_are_refused_in_production(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        get_settings()
    reset_settings()
    monkeypatch.setenv("SECRET_KEY", "a-long-and-random-production-secret")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_realrealrealreal1234")
    assert get_settings().environment == "production"


def test_secrets_toml_is_read(monkeypatch, tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[vorm]\nsecret_key = "from-secrets-toml-0123456789"\nfree_daily_generations = 7\n')
    monkeypatch.setenv("VORM_SECRETS_FILE", str(path))
    s = get_settings()
    assert s.secret_key == "from-secrets-toml-0123456789" and s.free_daily_generations == 7
    # The environment wins over the file.
    reset_settings()
    monkeypatch.setenv("FREE_DAILY_GENERATIONS", "3")
    assert get_settings().free_daily_generations == 3


def test_s3_without_bucket_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        get_settings()
