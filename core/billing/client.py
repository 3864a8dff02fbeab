"""The Stripe client, built once from settings, and the few calls Vorm makes with it.

We hold Stripe references only (customer, subscription and invoice ids); card data
never reaches us. ``stripe_api_base`` points the client at a local stub in tests, so
no test talks to the network.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from core.config import PLACEHOLDER_SECRETS, get_settings
from core.errors import TransientError, VormError

log = logging.getLogger(__name__)

#: Subscription states in which the customer keeps premium.
ACTIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
#: Subscription states Stripe never leaves: a canceled subscription is not revived, a new one is made.
FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Stripe's default: older signatures are refused as replays. Newer ones by as much are refused too:
# a timestamp from the future would keep a captured request replayable for longer.
WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe waits about 10 s for a webhook's answer, and a webhook asks Stripe once: past this, it falls
# back to the event's own copy rather than keep Stripe (and the web process's threads) waiting.
STRIPE_TIMEOUT_SECONDS = 8.0


class WebhookRejected(VormError):
    """The webhook payload or its signature is not valid."""

    code = "webhook_rejected"

    @property
    def reason(self) -> str:
        """A short code for what was wrong (recorded in the log and the audit log)."""
        return str(self.context.get("reason") or self.code)


class BillingNotConfigured(VormError):
    """Billing is not configured: no Stripe webhook signing secret is set."""

    code = "billing_not_configured"


class RequestTooLarge(VormError):
    """The request body is larger than {limit_kb} kB."""

    code = "request_too_large"


class BillingUnavailable(TransientError):
    """Stripe could not be reached. It will be retried."""

    code = "billing_unavailable"


class PaymentsUnavailable(VormError):
    """Payments are unavailable right now, try again in a few minutes."""

    # What a user sees whenever Stripe cannot do what they asked (down, slow, refusing our key, or not
    # set up): nothing was changed. The operator log has the detail.
    code = "payments_unavailable"


class StripeNotConfigured(VormError):
    """Stripe is not configured: set STRIPE_SECRET_KEY (and STRIPE_API_BASE only for a local stub)."""

    code = "stripe_not_configured"


# --- the client -----------------------------------------------------------


def _is_placeholder(secret: str) -> bool:
    return secret.strip() in PLACEHOLDER_SECRETS or "placeholder" in secret.lower()


def stripe_configured() -> bool:
    s = get_settings()
    return bool(s.stripe_api_base) or not _is_placeholder(s.stripe_secret_key)


def webhook_secret() -> str | None:
    """The webhook signing secret, or None while it is unset or a placeholder from the examples.

    A placeholder is public (it ships in the repository), so anyone could sign events with it:
    without a real secret the webhook refuses everything.
    """
    secret = get_settings().stripe_webhook_secret
    return None if _is_placeholder(secret) else secret


@functools.cache
def _client_for(api_key: str, api_base: str | None) -> Any:
    import stripe

    bases: dict[str, str] = {"api": api_base.rstrip("/")} if api_base else {}
    return stripe.StripeClient(api_key, base_addresses=bases, max_network_retries=2,  # type: ignore[arg-type]
                               http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS))


def get_client() -> Any:
    """The process-wide Stripe client, built once per configuration."""
    s = get_settings()
    return _client_for(s.stripe_secret_key, s.stripe_api_base)


def reset_client() -> None:
    _client_for.cache_clear()


def fetch_subscription(subscription_id: str) -> dict[str, Any] | None:
    """Stripe's current copy of a subscription; None when Stripe is not set up, unreachable or does not know it.

    Events arrive late, twice and out of order, so the webhook applies this rather than the event's
    copy when it can. None is never an error: the caller falls back to the event and its time.
    """
    import stripe

    if not stripe_configured():
        return None
    try:
        # One try: Stripe waits for the webhook's answer, and the event's own copy is a fallback.
        sub = get_client().v1.subscriptions.retrieve(subscription_id, params={"expand": ["latest_invoice"]},
                                                     options={"max_network_retries": 0})
    except stripe.StripeError as exc:
        log.warning("Stripe subscription %s could not be fetched (%s: %s); applying the event's own copy",
                    subscription_id, type(exc).__name__, str(exc)[:200])
        return None
    data = sub.to_dict() if hasattr(sub, "to_dict") else dict(sub)
    return data if isinstance(data, dict) else None


def _read(what: str, call: Callable[[], Any]) -> Any | None:
    """``call()``'s answer; None when Stripe answers 404 (it does not know the object), BillingUnavailable
    when Stripe cannot be asked or refuses otherwise."""
    import stripe

    try:
        return call()
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "code", None) == "resource_missing" or getattr(exc, "http_status", None) == 404:
            return None
        log.error("Stripe refused to read %s: %s", what, exc)
        raise BillingUnavailable() from exc
    except stripe.StripeError as exc:
        log.error("Stripe could not read %s (%s: %s)", what, type(exc).__name__, " ".join(str(exc).split())[:300])
        raise BillingUnavailable() from exc


def retrieve_subscription(subscription_id: str) -> dict[str, Any] | None:
    """Stripe's current copy of a subscription (its latest invoice expanded); None when Stripe does not know
    it (404: deleted with its customer). BillingUnavailable when Stripe cannot be asked."""
    sub = _read(f"subscription {subscription_id}", lambda: get_client().v1.subscriptions.retrieve(
        subscription_id, params={"expand": ["latest_invoice"]}))
    if sub is None:
        return None
    data = sub.to_dict() if hasattr(sub, "to_dict") else dict(sub)
    return data if isinstance(data, dict) else None


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


def list_subscriptions(customer_id: str) -> list[dict[str, Any]]:
    """Every subscription Stripe holds for a customer now, ended ones included (latest invoices expanded).
    BillingUnavailable when it cannot be asked; a customer Stripe no longer knows has none."""

    def every_page() -> list[Any]:
        page = get_client().v1.subscriptions.list(params={"customer": customer_id, "status": "all", "limit": 100,
                                                          "expand": ["data.latest_invoice"]})
        return [s.to_dict() if hasattr(s, "to_dict") else dict(s) for s in page.auto_paging_iter()]

    subs = _read(f"the subscriptions of {customer_id}", every_page) or []
    return [s for s in subs if isinstance(s, dict)]
