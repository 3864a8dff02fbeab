"""A Dutch user sees Dutch everywhere: upload, library, model, My data and the admin page.

The check is mechanical as well as visual: no English message of our catalog (one that has a
different Dutch translation) and none of Streamlit's own English widget texts may be visible.
The screenshots (artifacts/screenshots/nl-*.png) are for looking at.
"""

from __future__ import annotations

import re
import uuid

import pytest

from core.i18n import translate
from tests.e2e.conftest import shot
from tests.e2e.test_journey import JOB_TIMEOUT_MS, PASSWORD, object_png, register, settle, wait_app

pytestmark = pytest.mark.e2e

#: Streamlit's built-in English texts that a page of ours can show.
STREAMLIT_ENGLISH = ("Drag and drop", "Browse files", "per file", "Limit ")


def nl(message: str, **fields: object) -> str:
    return translate(message, "nl", **fields)


def english_leftovers(page) -> list[str]:  # type: ignore[no-untyped-def]
    """English texts on the page that should have been Dutch."""
    from babel.messages.pofile import read_po

    from core.i18n import LOCALE_DIR

    with (LOCALE_DIR / "nl" / "LC_MESSAGES" / "vorm.po").open("rb") as fh:
        catalog = read_po(fh, locale="nl")
    body = page.inner_text("body")
    found = [text for text in STREAMLIT_ENGLISH if text in body]
    for msg in catalog:
        if not msg.id or isinstance(msg.id, tuple):
            continue
        english = msg.id.split("{")[0].strip()
        if len(english) >= 14 and english != str(msg.string).split("{")[0].strip() and english in body:
            found.append(english)
    return found


@pytest.fixture
def dutch_page(browser, product):  # type: ignore[no-untyped-def]
    # Tall, so that the screenshots show whole pages (Streamlit scrolls inside its own container).
    context = browser.new_context(viewport={"width": 1360, "height": 2400}, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    shot(page, "nl-last")
    context.close()


def test_a_dutch_user_sees_dutch_everywhere(dutch_page, product, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    page, url = dutch_page, product.url
    email = f"nl-{uuid.uuid4().hex[:8]}@example.org"
    register(page, url, email, name="Anna", lang="nl")
    wait_app(page)
    shot(page, "nl-0-upload-empty")
    assert english_leftovers(page) == []

    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(object_png(tmp_path / "vaas.png")))
    page.get_by_text(nl("What will be modelled")).wait_for()
    wait_app(page)
    shot(page, "nl-1-upload")
    assert english_leftovers(page) == []
    page.get_by_role("button", name=nl("Make my 3D model")).click()
    page.get_by_text(nl("“{name}” is ready.", name="vaas")).wait_for(timeout=JOB_TIMEOUT_MS)

    page.get_by_role("link", name=nl("Open the model")).click()
    page.get_by_role("heading", name="vaas").wait_for()
    wait_app(page)
    page.wait_for_timeout(1500)
    shot(page, "nl-2-model")
    assert english_leftovers(page) == []
    assert page.get_by_text(nl("Three-quarter")).count() >= 1  # the thumbnail captions, not "three_quarter"

    page.get_by_role("link", name=nl("My models")).click()
    page.get_by_role("heading", name=nl("My models")).wait_for()
    page.get_by_role("link", name=nl("Open")).first.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stImage] img')]"
                           ".some(img => img.complete && img.naturalWidth > 0)")
    wait_app(page)
    shot(page, "nl-3-library")
    assert english_leftovers(page) == []

    page.get_by_role("link", name=nl("My data")).click()
    page.get_by_role("heading", name=nl("My data")).wait_for()
    page.get_by_role("heading", name=nl("Delete your account")).or_(
        page.get_by_text(nl("Delete your account"))).first.wait_for()
    wait_app(page)
    page.wait_for_timeout(1000)
    shot(page, "nl-4-my-data")
    assert english_leftovers(page) == []

    # A new browser whose locale is English: the account's language still wins.
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, locale="en-GB")
    other = context.new_page()
    other.goto(url + "/")
    other.get_by_label("Email address").first.fill(email)
    other.get_by_label("Password", exact=True).fill(PASSWORD)
    other.get_by_role("button", name="Log in").click()
    other.get_by_role("heading", name=nl("New model")).wait_for()
    settle(other)
    other.reload()
    other.get_by_role("heading", name=nl("New model")).wait_for()
    context.close()


def test_the_admin_page_in_dutch(dutch_page, product) -> None:  # type: ignore[no-untyped-def]
    from core.accounts import auth
    from core.models import Role

    email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    with product.db_session() as session:
        auth.create_user(session, email=email, password=PASSWORD, name="Beheer", role=Role.ADMIN, locale="nl")
        session.commit()
    page, url = dutch_page, product.url
    page.goto(url + "/")
    page.get_by_label(nl("Email address")).first.fill(email)
    page.get_by_label(nl("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=nl("Log in")).click()
    page.get_by_role("heading", name=nl("New model")).wait_for()
    settle(page)
    page.get_by_role("link", name=re.compile(nl("Metrics"))).click()
    page.get_by_role("heading", name=nl("Metrics")).wait_for()
    page.get_by_role("heading", name=nl("Workers")).wait_for()
    wait_app(page)
    page.wait_for_timeout(1000)
    shot(page, "nl-5-admin")
    assert english_leftovers(page) == []
