"""Privacy self-service in headless Chromium: the policy banner and the data export.

Runs against the same real web app and worker as the journey (tests/e2e/conftest.py).
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import shot
from tests.e2e.test_journey import register, wait_app

pytestmark = pytest.mark.e2e

EXPORT_TIMEOUT_SECONDS = 90  # the worker's privacy tick runs every 10 s


def publish_material_version(policy_dir: Path, version: str) -> None:
    """What an operator does: add the new texts and a material [[version]] to versions.toml."""
    for lang in ("nl", "en"):
        old = (policy_dir / f"2025-05-02.{lang}.txt").read_text()
        (policy_dir / f"{version}.{lang}.txt").write_text(old.replace("2025-05-02", version))
    with open(policy_dir / "versions.toml", "a") as fh:
        fh.write(f'\n[[version]]\nversion = "{version}"\nlast_updated = "{version}"\nmaterial = true\n'
                 f'files = {{ nl = "{version}.nl.txt", en = "{version}.en.txt" }}\n')


def wait_for_policy_notice(product, email: str, version: str) -> None:  # type: ignore[no-untyped-def]
    """The worker publishes the new version on its next tick and mails every user who has not seen it."""
    from sqlmodel import select

    from core.models import OutboxMessage, PolicyVersion

    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with product.db_session() as s:
            published = version in s.exec(select(PolicyVersion.version)).all()
            notices = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "policy_notice")
                             .where(OutboxMessage.to_address == email)).all()
        if published and notices:
            assert version in notices[0].body
            return
        time.sleep(1)
    raise AssertionError(f"no policy notice for {email} within 40 s")


def test_policy_banner_appears_after_a_material_change_and_goes_after_acknowledging(page, product):
    email = f"policy-{uuid.uuid4().hex[:8]}@example.org"
    ack = page.get_by_role("button", name="I have read it")
    register(page, product.url, email)
    assert ack.count() == 0  # the version accepted at registration is current

    publish_material_version(Path(product.env["POLICY_DIR"]), "2027-01-15")
    page.reload()
    wait_app(page)
    ack.wait_for()
    assert page.get_by_text("Our privacy policy has changed").is_visible()
    shot(page, "20-policy-banner")
    wait_for_policy_notice(product, email, "2027-01-15")

    ack.click()
    wait_app(page)
    ack.wait_for(state="detached", timeout=15_000)  # the rerun can take a moment on a busy machine
    page.reload()
    wait_app(page)
    assert ack.count() == 0
    shot(page, "21-policy-acknowledged")


def test_export_link_downloads_a_zip_that_opens(page, product):
    email = f"export-{uuid.uuid4().hex[:8]}@example.org"
    register(page, product.url, email)
    page.goto(product.url + "/my-data")
    wait_app(page)
    page.get_by_role("button", name="Request export").click()
    wait_app(page)

    link = page.get_by_role("link", name="Download ZIP")
    deadline = time.monotonic() + EXPORT_TIMEOUT_SECONDS
    refresh = page.get_by_role("button", name="Refresh")
    while link.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(3000)
        if refresh.count():
            refresh.click()
            wait_app(page)
    link.wait_for(timeout=5000)
    shot(page, "22-export-ready")

    resp = page.context.request.get(link.get_attribute("href"))
    assert resp.status == 200
    with zipfile.ZipFile(io.BytesIO(resp.body())) as zf:
        names = zf.namelist()
        assert zf.testzip() is None
        profile = json.loads(zf.read(next(n for n in names if n.endswith(".json"))))
    assert any(n.lower().startswith("readme") for n in names)
    assert email in json.dumps(profile)
