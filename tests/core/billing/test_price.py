"""The premium price shown before paying: Stripe's Price (cached), the settings' when Stripe cannot say, per locale."""

from __future__ import annotations

import pytest

from core.billing import price
from core.billing.client import reset_client
from core.config import reset_settings
from tests.conftest import free_port


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    price.reset_price_cache()
    yield
    price.reset_price_cache()


def _asked(stub) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for method, path in stub.requests if method == "GET" and path.startswith("/v1/prices/"))


def test_the_price_is_stripes_read_once_and_formatted_per_locale(stripe_stub, monkeypatch):
    monkeypatch.setenv("STRIPE_PRICE_ID", "price_premium_test")
    monkeypatch.setenv("PREMIUM_PRICE_CENTS", "500")  # Stripe's answer wins over the setting
    reset_settings()
    stripe_stub.set_price("price_premium_test", unit_amount=999, currency="eur", interval="month")
    found = price.premium_price()
    assert found == price.Price(999, "eur", "month", 1, "stripe")
    assert price.price_text(found, "nl") == "€\xa09,99 per maand"
    assert price.price_text(found, "en") == "€9.99 per month"
    for _ in range(5):
        assert price.premium_price() == found
    assert _asked(stripe_stub) == 1  # cached: pages show it on every run


def test_intervals_and_other_currencies():
    yearly = price.Price(9900, "usd", "year")
    assert price.price_text(yearly, "en") == "US$99.00 per year"
    assert price.price_text(yearly, "nl") == "US$\xa099,00 per jaar"
    quarterly = price.Price(2500, "eur", "month", 3)
    assert price.price_text(quarterly, "en") == "€25.00 every 3 months"
    assert price.price_text(quarterly, "nl") == "€\xa025,00 per 3 maanden"


def test_without_stripe_the_settings_price_is_shown_and_stripe_is_asked_again_later(stripe_stub, monkeypatch):
    monkeypatch.setenv("PREMIUM_PRICE_CENTS", "1250")
    monkeypatch.setenv("PREMIUM_PRICE_INTERVAL", "year")
    reset_settings()
    # Stripe does not know the price (a wrong STRIPE_PRICE_ID): the settings' price.
    assert price.premium_price() == price.Price(1250, "eur", "year", 1, "settings")
    asked = _asked(stripe_stub)
    assert price.premium_price().source == "settings" and _asked(stripe_stub) == asked  # not asked on every page
    price.reset_price_cache()
    stripe_stub.set_price("price_premium_monthly", unit_amount=999)
    assert price.premium_price().source == "stripe"

    # Stripe unreachable.
    price.reset_price_cache()
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    reset_settings()
    reset_client()
    assert price.premium_price() == price.Price(1250, "eur", "year", 1, "settings")

    # Neither: no price rather than a wrong one.
    price.reset_price_cache()
    monkeypatch.setenv("PREMIUM_PRICE_CENTS", "0")
    reset_settings()
    assert price.premium_price() is None


def test_a_price_stripe_cannot_state_as_one_amount_falls_back(stripe_stub, monkeypatch):
    monkeypatch.setenv("PREMIUM_PRICE_CENTS", "799")
    reset_settings()
    stripe_stub.set_price("price_premium_monthly", unit_amount=999)
    stripe_stub.prices["price_premium_monthly"].update(unit_amount=None, billing_scheme="tiered")
    assert price.premium_price() == price.Price(799, "eur", "month", 1, "settings")
