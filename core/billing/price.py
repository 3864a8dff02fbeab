"""The premium price that the pages show before anyone pays: Stripe's Price, or the settings' when Stripe cannot say.

Stripe's Price object (``STRIPE_PRICE_ID``) is what Checkout charges, so it is the truth; it is read
once per ``PRICE_CACHE_SECONDS`` per process, because every Account and upload page shows it and a
price seldom changes. When Stripe is not set up, is unreachable or the Price has no plain unit amount,
the settings' price is used (``PREMIUM_PRICE_CENTS``, ``PREMIUM_PRICE_CURRENCY``,
``PREMIUM_PRICE_INTERVAL``) and Stripe is asked again after ``PRICE_RETRY_SECONDS``. With neither,
there is no price, and the pages show none rather than a wrong one.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from core.billing.client import get_client, stripe_configured
from core.config import get_settings
from core.i18n import format_money, translate, translate_plural

log = logging.getLogger(__name__)

PRICE_CACHE_SECONDS = 3600.0  # a price read from Stripe is shown for this long
PRICE_RETRY_SECONDS = 300.0  # after Stripe could not answer, it is asked again this much later
INTERVALS = ("day", "week", "month", "year")


@dataclass(frozen=True)
class Price:
    amount_cents: int
    currency: str  # ISO 4217, lower case as Stripe writes it
    interval: str  # one of INTERVALS
    interval_count: int = 1
    source: str = "stripe"  # "stripe" or "settings"


_cache: dict[tuple[str, str | None, str], tuple[float, Price | None]] = {}
_lock = threading.Lock()


def _from_settings() -> Price | None:
    s = get_settings()
    if s.premium_price_cents <= 0:
        return None
    return Price(s.premium_price_cents, s.premium_price_currency.lower(), s.premium_price_interval, 1, "settings")


def _from_stripe(price_id: str) -> Price | None:
    """Stripe's Price, or None when Stripe cannot answer or the Price is not one plain amount per interval."""
    import stripe

    try:
        # One try: a page is waiting for it, and the settings' price is a fallback.
        found: Any = get_client().v1.prices.retrieve(price_id, options={"max_network_retries": 0})
    except stripe.StripeError as exc:
        log.warning("Stripe price %s could not be read (%s: %s); showing the settings' price", price_id,
                    type(exc).__name__, " ".join(str(exc).split())[:200])
        return None
    data = found.to_dict() if hasattr(found, "to_dict") else dict(found)
    amount, currency, recurring = data.get("unit_amount"), data.get("currency"), data.get("recurring") or {}
    interval, count = recurring.get("interval"), recurring.get("interval_count") or 1
    if not isinstance(amount, int) or not isinstance(currency, str) or interval not in INTERVALS or \
            not isinstance(count, int) or count < 1:
        log.warning("Stripe price %s is not one amount per interval (%r); showing the settings' price", price_id,
                    {k: data.get(k) for k in ("unit_amount", "currency", "recurring", "billing_scheme")})
        return None
    return Price(amount, currency.lower(), str(interval), count, "stripe")


def premium_price() -> Price | None:
    """The premium price to show: Stripe's (cached), else the settings', else None."""
    s = get_settings()
    if not stripe_configured():
        return _from_settings()
    key = (s.stripe_secret_key, s.stripe_api_base, s.stripe_price_id)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1] if hit[1] is not None else _from_settings()
    found = _from_stripe(s.stripe_price_id)
    with _lock:
        _cache[key] = (now + (PRICE_CACHE_SECONDS if found is not None else PRICE_RETRY_SECONDS), found)
    return found if found is not None else _from_settings()


def reset_price_cache() -> None:
    with _lock:
        _cache.clear()


def price_text(price: Price, lang: str | None) -> str:
    """"€ 9,99 per maand" in Dutch, "€9.99 per month" in English; "every 3 months" for longer intervals."""
    amount = format_money(price.amount_cents, price.currency, lang)
    if price.interval_count == 1:
        per = {"day": translate("{price} per day", lang, price=amount),
               "week": translate("{price} per week", lang, price=amount),
               "month": translate("{price} per month", lang, price=amount),
               "year": translate("{price} per year", lang, price=amount)}
        return per[price.interval]
    n = price.interval_count
    every = {"day": translate_plural("{price} every {n} day", "{price} every {n} days", n, lang, price=amount),
             "week": translate_plural("{price} every {n} week", "{price} every {n} weeks", n, lang, price=amount),
             "month": translate_plural("{price} every {n} month", "{price} every {n} months", n, lang,
                                       price=amount),
             "year": translate_plural("{price} every {n} year", "{price} every {n} years", n, lang, price=amount)}
    return every[price.interval]
