import pytest

from core import config
from core.config import get_settings, public_url, record_public_url, reset_settings
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
    monkeypatch.setenv("PUBLIC_URL", "https://vorm.example.org")
    assert get_settings().environment == "production"


def test_production_needs_an_explicit_public_url(monkeypatch):
    # Behind a proxy the address users open cannot be derived from the port the web process listens on.
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-and-random-production-secret")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_realrealrealreal1234")
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        get_settings()


@pytest.fixture
def data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(config, "_recorded", {})
    return tmp_path / "data"


def test_public_url_before_any_web_process_is_make_runs_address(data_dir):
    assert public_url() == "http://localhost:8501"


def test_public_url_follows_the_port_the_web_process_listens_on(data_dir, monkeypatch):
    # honcho's PORT, a PaaS's PORT, `make run PORT=...`: the web process records what it really got.
    assert record_public_url(address="0.0.0.0", port=5000) == "http://localhost:5000"
    assert public_url() == "http://localhost:5000"
    # The worker is another process: it reads what the web process wrote under DATA_DIR.
    monkeypatch.setattr(config, "_recorded", {})
    assert (data_dir / "public-url").read_text().strip() == "http://localhost:5000"
    assert public_url() == "http://localhost:5000"
    # A restart on another port replaces it.
    record_public_url(address="", port=8600)
    monkeypatch.setattr(config, "_recorded", {})
    assert public_url() == "http://localhost:8600"


def test_public_url_keeps_a_specific_listen_address(data_dir):
    assert record_public_url(address="127.0.0.1", port=8501) == "http://127.0.0.1:8501"
    assert record_public_url(address="::1", port=8501) == "http://[::1]:8501"


def test_an_explicit_public_url_wins_and_is_not_overwritten(data_dir, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://vorm.example.org/")
    assert record_public_url(address="0.0.0.0", port=5000) == "https://vorm.example.org"
    assert public_url() == "https://vorm.example.org"
    assert not (data_dir / "public-url").exists()


def test_local_file_links_use_the_recorded_address(data_dir, monkeypatch, tmp_path):
    from core.storage import make_storage

    monkeypatch.setenv("STORAGE_DIR", str(tmp_path / "storage"))
    storage = make_storage()  # made before the web process has said where it listens, like the worker's
    record_public_url(address="0.0.0.0", port=5123)
    assert storage.url("users/1/models/m/model.glb").startswith("http://localhost:5123/files/")


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
