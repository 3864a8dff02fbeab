"""The Stripe client, built once from settings, and the customer deletion that erasure needs.

We hold Stripe references only (customer, subscription and invoice ids); card data
never reaches us. ``stripe_api_base`` points the client at a local stub in tests, so
no test talks to the network.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from core.config import PLACEHOLDER_SECRETS, get_settings
from core.errors import TransientError, VormError

log = logging.getLogger(__name__)



#: Subscription states in which the customer keeps premium.
ACTIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
WEBHOOK_TOLERANCE_SECONDS = 300  # Stripe's default: older signatures are refused as replays


class WebhookRejected(VormError):
    """The webhook payload or its signature is not valid."""

    code = "webhook_rejected"


class BillingUnavailable(TransientError):
    """Stripe could not be reached. It will be retried."""

    code = "billing_unavailable"


# --- the client -----------------------------------------------------------


def stripe_configured() -> bool:
    s = get_settings()
    return bool(s.stripe_api_base) or (
        s.stripe_secret_key not in PLACEHOLDER_SECRETS and "placeholder" not in s.stripe_secret_key
    )


@functools.cache
def _client_for(api_key: str, api_base: str | None) -> Any:
    import stripe

    bases: dict[str, str] = {"api": api_base.rstrip("/")} if api_base else {}
    return stripe.StripeClient(api_key, base_addresses=bases, max_network_retries=2)  # type: ignore[arg-type]


def get_client() -> Any:
    """The process-wide Stripe client, built once per configuration."""
    s = get_settings()
    return _client_for(s.stripe_secret_key, s.stripe_api_base)


def reset_client() -> None:
    _client_for.cache_clear()


def delete_customer(customer_id: str) -> str:
    """Delete a Stripe customer. Returns "deleted", "missing" (already gone) or "skipped" (no Stripe set up).

    Safe to repeat: a customer that no longer exists counts as done, so an erasure rerun passes here.
    """
    import stripe

    if not customer_id:
        return "skipped"
    if not stripe_configured():
        log.warning("Stripe is not configured; customer %s was not deleted there", customer_id)
        return "skipped"
    try:
        get_client().v1.customers.delete(customer_id)
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "code", None) == "resource_missing" or getattr(exc, "http_status", None) == 404:
            return "missing"
        raise
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise BillingUnavailable() from exc
    except stripe.APIError as exc:
        raise BillingUnavailable() from exc
    return "deleted"
