"""The real product for browser tests: ``streamlit run app.py`` and ``python -m jobs.worker``.

Both run as separate processes against a fresh SQLite database and storage folder,
exactly as the README starts them. Chromium is the system's (/usr/bin/chromium);
Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, free_port
from tests.utils.processes import start_web, start_worker, stop, wait_healthy
from tests.utils.stripe_stub import StripeStub
from tests.utils.web_server import migrated_database

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


#: The webhook signing secret the product is configured with (tests sign events with it, as Stripe would).
STRIPE_WEBHOOK_SECRET = "whsec_e2e_0123456789abcdef0123"


class Product:
    def __init__(self, url: str, env: dict[str, str], logs: Path, stripe: StripeStub) -> None:
        self.url = url
        self.env = env
        self.logs = logs
        self.stripe = stripe  # the local Stripe API the product talks to

    def db_session(self):  # type: ignore[no-untyped-def]
        """A database session on the product's database (for fixtures the UI cannot make)."""
        from core.config import reset_settings
        from core.db import get_session, reset_engines
        from core.storage import reset_storage

        for key in ("DATABASE_URL", "DATA_DIR", "STORAGE_DIR", "SECRET_KEY", "PUBLIC_URL"):
            os.environ[key] = self.env[key]
        reset_settings()
        reset_engines()
        reset_storage()
        return get_session()


@pytest.fixture(scope="session")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium")
    base = tmp_path_factory.mktemp("product")
    stripe = StripeStub().start()
    stripe.set_price("price_premium_monthly", unit_amount=999, currency="eur", interval="month")  # the default id
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATA_DIR": str(base / "data"),
        "DATABASE_URL": f"sqlite:///{base / 'data' / 'vorm.db'}",
        "STORAGE_DIR": str(base / "storage"),
        "STORAGE_BACKEND": "local",
        "PUBLIC_URL": url,
        "SECRET_KEY": "e2e-secret-key-0123456789abcdef",
        "VORM_SECRETS_FILE": "/nonexistent/secrets.toml",
        "DEVICE": "cpu",
        "FREE_RESOLUTION_PX": "192",  # small: the journey tests the product, not the engine's detail
        "PYTHONUNBUFFERED": "1",
        "STRIPE_API_BASE": stripe.url,
        "STRIPE_SECRET_KEY": "sk_test_e2e_stub_0123456789",
        "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
    }
    (base / "data").mkdir()
    # A copy of the policy folder, so a test can publish a new version as an operator would.
    shutil.copytree(ROOT / "core" / "privacy" / "policies", base / "policies")
    env["POLICY_DIR"] = str(base / "policies")
    logs = SCREENSHOTS.parent / "e2e-logs"
    logs.mkdir(parents=True, exist_ok=True)
    migrated_database(env["DATABASE_URL"])  # what ``python -m core.manage migrate`` does, without its start-up
    web = start_web(port, env=env, log=logs / "web.log")
    worker = start_worker(env=env, log=logs / "worker.log")
    try:
        wait_healthy(url, [web, worker], logs)
        yield Product(url, env, logs, stripe)
    finally:
        stop([worker, web])
        stripe.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser, product, request):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, locale="en-GB", accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.node.name)
        shot(pg, f"failed-{safe}")
        try:  # the page's text too: the screenshot shows only the first screen of Streamlit's scroll area
            (SCREENSHOTS / f"failed-{safe}.txt").write_text(pg.inner_text("body", timeout=5_000))
        except Exception:  # noqa: BLE001 - a dead page leaves only the screenshot
            pass
    context.close()


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
