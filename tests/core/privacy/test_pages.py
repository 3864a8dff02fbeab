"""The privacy pages run, in both languages, and their main actions work (AppTest, real database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core.models import PrivacyRequest, SupportTicket, User
from core.privacy import maintenance
from tests.core.privacy.conftest import full_user
from tests.utils.builders import PASSWORD, create_random_user

TIMEOUT = 30
PAGES = Path(__file__).resolve().parents[3] / "pages"


def page(name: str, *, user=None, lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    at.session_state["_vorm_user"] = user
    at.session_state["lang"] = lang
    return at


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_policy_and_processors_pages(db, lang):
    at = page("privacy_policy", lang=lang).run()
    assert not at.exception
    assert any("2026-11-25" in c.value for c in at.caption)
    text = " ".join(m.value for m in at.markdown)
    assert ("Gegevensbeveiliging" if lang == "nl" else "Data Security") in text
    assert "cookies" in text.lower()
    at.radio(key="policy_lang").set_value("en" if lang == "nl" else "nl").run()
    assert not at.exception
    at = page("processors", lang=lang).run()
    text = " ".join(m.value for m in at.markdown)
    assert not at.exception and "Stripe" not in text  # billing is not configured in the tests' settings
    assert ("een map op onze eigen server" if lang == "nl" else "a folder on our own server") in text


def test_processors_name_what_is_configured(db, monkeypatch):
    from core.config import reset_settings

    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "x" * 24)
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    monkeypatch.setenv("S3_BUCKET", "vorm")
    monkeypatch.setenv("S3_ENDPOINT_URL", "https://minio.internal.example:9000")
    monkeypatch.setenv("SMTP_HOST", "smtp.example.org")
    reset_settings()
    try:
        for name in ("processors", "privacy_policy"):
            at = page(name).run()
            text = " ".join(m.value for m in at.markdown)
            assert not at.exception
            assert "Payments: Stripe" in text
            assert "S3-compatible store at minio.internal.example" in text
            assert "the mail server smtp.example.org" in text
    finally:
        monkeypatch.undo()
        reset_settings()


def test_policy_page_lists_the_contact_routes(db, monkeypatch):
    from core.config import reset_settings

    monkeypatch.setenv("SUPPORT_EMAIL", "help@vorm.example")
    reset_settings()
    try:
        at = page("privacy_policy", lang="nl").run()
        text = " ".join(m.value for m in at.markdown)
        assert "help@vorm.example" in text and "ondersteuningspagina" in text
    finally:
        monkeypatch.undo()
        reset_settings()


def test_support_page_files_tickets(session):
    at = page("support").run()
    assert not at.exception
    at.text_input(key="support_email").set_value("visitor@example.org")
    at.text_input(key="support_subject").set_value("Colours?")
    at.text_area(key="support_body").set_value("Can I print in colour?")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    assert any("#" in s.value for s in at.success)
    assert session.exec(select(SupportTicket)).one().email == "visitor@example.org"

    user = create_random_user(session)
    at = page("support", user=user).run()
    at.selectbox(key="support_topic").set_value("privacy").run()
    at.selectbox(key="support_privacy_kind").set_value("correction")
    at.text_input(key="support_subject").set_value("Wrong name")
    at.text_area(key="support_body").set_value("Please fix it")
    at.button[0].click().run()
    assert not at.exception
    req = session.exec(select(PrivacyRequest).where(PrivacyRequest.user_id == user.id)).one()
    assert req.kind == "correction"


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_my_data_shows_everything_and_exports(session, lang):
    content = full_user(session)
    at = page("my_data", user=content.user, lang=lang).run()
    assert not at.exception, at.exception
    shown = " ".join(m.value for m in at.markdown)
    from pages.common import plain

    assert plain(content.user.email) in shown and "cus_TEST123" in shown  # as typed, escaped for Markdown
    at.button(key="mydata_export_request").click().run()
    assert not at.exception
    assert maintenance.tick()["exports"] == 1
    at.run()
    assert not at.exception
    assert at.button(key="mydata_export_request").disabled  # one per 24 hours


def test_my_data_deletes_an_item_and_the_account(session):
    content = full_user(session)
    at = page("my_data", user=content.user).run()
    model_id = content.model_ids[0]
    at.button(key=f"models_del_confirm_{model_id}").click().run()
    assert not at.exception
    assert any("Deleted" in s.value for s in at.success)

    at.text_input(key="mydata_delete_password").set_value(PASSWORD)
    at.checkbox(key="mydata_delete_understood").check()
    at.button(key="FormSubmitter:mydata_delete_form-Delete my account").click().run()
    assert not at.exception
    session.expire_all()
    assert session.get(User, content.user.id) is None


def test_my_data_wrong_password_keeps_the_account(session):
    user = create_random_user(session)
    at = page("my_data", user=user).run()
    assert not at.exception
    at.text_input(key="mydata_delete_password").set_value("wrong-password-9")
    at.checkbox(key="mydata_delete_understood").check()
    at.button(key="FormSubmitter:mydata_delete_form-Delete my account").click().run()
    assert at.error and session.get(User, user.id) is not None


def test_my_data_delete_without_the_tick_says_what_to_do_and_keeps_the_account(session):
    user = create_random_user(session)
    at = page("my_data", user=user).run()
    at.text_input(key="mydata_delete_password").set_value(PASSWORD)
    at.button(key="FormSubmitter:mydata_delete_form-Delete my account").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Tick “I understand that this cannot be undone” to delete your account."]
    session.expire_all()
    assert session.get(User, user.id) is not None
