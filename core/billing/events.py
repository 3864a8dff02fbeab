"""What a Stripe webhook says: its signature checked and its payload validated into one typed change.

Nothing here touches the database. ``core.billing.webhooks`` applies what ``parse_event`` returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.billing.client import WEBHOOK_TOLERANCE_SECONDS, WebhookRejected
from core.ids import parse_id
from core.models import utcnow

EVENT_ID_CHARS = 255  # webhook_event.id
EVENT_TYPE_CHARS = 64  # webhook_event.type
STRIPE_ID_CHARS = 64  # the Stripe ids we store: subscription, customer, invoice, price
CHECKOUT_ID_CHARS = 255  # checkout_session.stripe_session_id (Stripe's are about 66 characters)
STATUS_CHARS = 32  # subscription.status
CURRENCY_CHARS = 8  # invoice_record.currency
MAX_TIMESTAMP = 253402300799  # 9999-12-31 in Unix seconds: anything later is not a time
MAX_CENTS = 2**63 - 1  # invoice_record.amount_cents is a BIGINT (both databases)


# --- what an event says, validated -----------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    created: datetime  # Stripe's time of the event: orders events about one subscription


@dataclass(frozen=True)
class SubscriptionState:
    id: str
    customer: str
    status: str
    period_end: datetime | None
    ended_at: datetime | None
    price_id: str | None = None
    cancel_at_period_end: bool = False
    #: Past due: when the payment failed, as Stripe reports it (its latest invoice, when expanded).
    failed_at: datetime | None = None


@dataclass(frozen=True)
class Checkout:
    user_ref: int | None
    customer: str
    subscription_id: str
    session_id: str = ""


@dataclass(frozen=True)
class SubscriptionChange:
    user_ref: int | None
    state: SubscriptionState  # the event's own copy


@dataclass(frozen=True)
class InvoicePaid:
    user_ref: int | None
    id: str
    customer: str
    amount_cents: int
    currency: str
    created: datetime | None
    subscription_id: str = ""


@dataclass(frozen=True)
class PaymentFailed:
    """invoice.payment_failed: the subscription's payment failed (Stripe retries, the subscription is past due)."""

    user_ref: int | None
    customer: str
    subscription_id: str


Change = Checkout | SubscriptionChange | InvoicePaid | PaymentFailed | None


def _rejected(message: str, reason: str) -> WebhookRejected:
    return WebhookRejected(message, reason=reason)


def _timestamp(value: Any, name: str) -> datetime | None:
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TIMESTAMP:
        raise _rejected(f"The field {name} is not a Unix timestamp.", f"bad_{name}")
    return datetime.fromtimestamp(value, tz=UTC)


def storable(value: str, limit: int) -> bool:
    """Whether ``value`` fits a column of ``limit`` characters and is text as Stripe writes it: printable ASCII.

    A signed event can still carry what no column holds (PostgreSQL's text refuses NUL, no encoding
    stores a lone surrogate), or control characters that would reach an operator's terminal.
    """
    return len(value) <= limit and value.isascii() and value.isprintable()


def _stripe_id(obj: dict[str, Any], key: str, *, required: bool, limit: int = STRIPE_ID_CHARS) -> str:
    value = obj.get(key)
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    if value is None or value == "":
        if required:
            raise _rejected(f"The event's object has no {key}.", f"missing_{key}")
        return ""
    if not isinstance(value, str) or not storable(value, limit) or " " in value:
        raise _rejected(f"The field {key} is not a Stripe id of at most {limit} characters.", f"bad_{key}")
    return value


def user_ref(obj: dict[str, Any]) -> int | None:
    """The account our checkout named (client_reference_id, or metadata.user_id); a hint, checked later.

    One that cannot be a row id (another script's digits, out of the column's range) names nobody.
    """
    metadata = obj.get("metadata")
    ref = obj.get("client_reference_id") or (metadata.get("user_id") if isinstance(metadata, dict) else None)
    return parse_id(ref)


def _period_end(obj: dict[str, Any]) -> datetime | None:
    end = obj.get("current_period_end")
    if end is None:  # newer API versions keep it on the subscription items
        items = obj.get("items")
        data = items.get("data") if isinstance(items, dict) else None
        first = data[0] if isinstance(data, list) and data else None
        end = first.get("current_period_end") if isinstance(first, dict) else None
    return _timestamp(end, "current_period_end")


def _price_id(obj: dict[str, Any]) -> str | None:
    items = obj.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    first = data[0] if isinstance(data, list) and data else None
    price = first.get("price") if isinstance(first, dict) else None
    price = price if isinstance(price, dict) else {"id": price}
    return _stripe_id(price, "id", required=False) or None


def _failed_at(obj: dict[str, Any], status: str) -> datetime | None:
    """When a past-due subscription's payment failed: its latest invoice (expanded), still unpaid, was
    attempted when it was finalised (``status_transitions.finalized_at``; else its ``created``)."""
    invoice = obj.get("latest_invoice")
    if status != "past_due" or not isinstance(invoice, dict) or invoice.get("status") in ("paid", "void"):
        return None
    transitions = invoice.get("status_transitions")
    finalized = transitions.get("finalized_at") if isinstance(transitions, dict) else None
    return _timestamp(finalized or invoice.get("created"), "latest_invoice")


def subscription_state(obj: dict[str, Any], *, deleted: bool = False) -> SubscriptionState:
    status = "canceled" if deleted else obj.get("status")
    if not isinstance(status, str) or not status or not storable(status, STATUS_CHARS):
        raise _rejected("The subscription's status is not valid.", "bad_status")
    return SubscriptionState(id=_stripe_id(obj, "id", required=True),
                             customer=_stripe_id(obj, "customer", required=True), status=status,
                             period_end=_period_end(obj), ended_at=_timestamp(obj.get("ended_at"), "ended_at"),
                             price_id=_price_id(obj), cancel_at_period_end=obj.get("cancel_at_period_end") is True,
                             failed_at=_failed_at(obj, status))


def _invoice_subscription(obj: dict[str, Any]) -> str:
    """The subscription an invoice bills: ``subscription`` in older API versions, under ``parent`` in newer."""
    if obj.get("subscription"):
        return _stripe_id(obj, "subscription", required=False)
    parent = obj.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    return _stripe_id(details, "subscription", required=False) if isinstance(details, dict) else ""


def _invoice(obj: dict[str, Any]) -> InvoicePaid:
    amount = obj.get("amount_paid") or 0
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_CENTS:
        raise _rejected("The invoice's amount_paid is not a whole number of cents.", "bad_amount_paid")
    currency = obj.get("currency") or "eur"
    if not isinstance(currency, str) or not storable(currency, CURRENCY_CHARS) or not currency.isalpha():
        raise _rejected("The invoice's currency is not valid.", "bad_currency")
    return InvoicePaid(user_ref=user_ref(obj), id=_stripe_id(obj, "id", required=True),
                       customer=_stripe_id(obj, "customer", required=False), amount_cents=amount,
                       currency=currency, created=_timestamp(obj.get("created"), "created"),
                       subscription_id=_invoice_subscription(obj))


HANDLED_TYPES = frozenset({"checkout.session.completed", "customer.subscription.created",
                           "customer.subscription.updated", "customer.subscription.deleted", "invoice.paid",
                           "invoice.payment_failed"})


def parse_event(payload: bytes) -> tuple[Event, Change]:
    """The event and the change it asks for (None: a type we do not handle). Raises WebhookRejected."""
    try:
        data = json.loads(payload)
    except ValueError:  # UnicodeDecodeError too
        raise _rejected("The webhook payload is not valid JSON.", "not_json") from None
    if not isinstance(data, dict):
        raise _rejected("The webhook payload is not a JSON object.", "not_an_object")
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not event_id:
        raise _rejected("The webhook event has no id.", "missing_event_id")
    if not storable(event_id, EVENT_ID_CHARS):
        raise _rejected(f"The webhook event's id is not printable ASCII of at most {EVENT_ID_CHARS} characters.",
                        "bad_event_id")
    if not isinstance(event_type, str) or not event_type:
        raise _rejected("The webhook event has no type.", "missing_type")
    if not storable(event_type, len(event_type)):  # stored cut to EVENT_TYPE_CHARS: a type we do not handle
        raise _rejected("The webhook event's type is not printable ASCII.", "bad_type")
    event = Event(id=event_id, type=event_type, created=_timestamp(data.get("created"), "created") or utcnow())
    if event_type not in HANDLED_TYPES:
        return event, None
    body = data.get("data")
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(obj, dict):
        raise _rejected("The webhook event has no data.object.", "bad_object")
    if event_type == "checkout.session.completed":
        return event, Checkout(user_ref=user_ref(obj), customer=_stripe_id(obj, "customer", required=False),
                               subscription_id=_stripe_id(obj, "subscription", required=False),
                               session_id=_stripe_id(obj, "id", required=False, limit=CHECKOUT_ID_CHARS))
    if event_type == "invoice.paid":
        return event, _invoice(obj)
    if event_type == "invoice.payment_failed":
        return event, PaymentFailed(user_ref=user_ref(obj), customer=_stripe_id(obj, "customer", required=False),
                                    subscription_id=_invoice_subscription(obj))
    state = subscription_state(obj, deleted=event_type == "customer.subscription.deleted")
    return event, SubscriptionChange(user_ref=user_ref(obj), state=state)


def verify_signature(payload: bytes, header: str, secret: str, *, now: float | None = None) -> None:
    """Stripe's scheme: ``t=TIMESTAMP,v1=HEX`` with v1 = HMAC-SHA256(secret, "TIMESTAMP." + raw body)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        # ASCII digits only: str.isdigit() also takes "\u00b2", which int() then refuses.
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise _rejected("The webhook signature is missing or malformed.", "bad_signature_header")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, sig.encode()) for sig in signatures):
        raise _rejected("The webhook signature is not valid.", "bad_signature")
    now = time.time() if now is None else now
    if timestamp < now - WEBHOOK_TOLERANCE_SECONDS:
        raise _rejected("The webhook signature is too old (a replay?).", "signature_expired")
    if timestamp > now + WEBHOOK_TOLERANCE_SECONDS:
        raise _rejected("The webhook signature's timestamp lies in the future.", "signature_in_future")

