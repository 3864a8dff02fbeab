"""The schema as migrated: no column anywhere could hold card data (the policy: Stripe ids and amounts only)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from core.db import get_engine

#: Names a column holding card data (or bank account data) would have.
CARD_DATA = re.compile(r"card|cvc|cvv|\bpan\b|^pan_|_pan$|iban|bic|exp_month|exp_year|expiry|expires_mmyy|last4|"
                       r"fingerprint|account_number|routing|brand|holder|billing_address|cardholder", re.I)


def test_no_table_has_a_column_that_could_hold_card_data(db):
    inspector = sa.inspect(get_engine())
    tables = inspector.get_table_names()
    assert {"user", "subscription", "invoice_record", "checkout_session"} <= set(tables)
    found = [f"{table}.{column['name']}" for table in tables for column in inspector.get_columns(table)
             if CARD_DATA.search(column["name"])]
    assert found == []
    # And the billing tables hold exactly Stripe references, statuses, amounts and times.
    billing = {table: {c["name"] for c in inspector.get_columns(table)}
               for table in ("subscription", "invoice_record", "checkout_session")}
    assert billing == {
        "subscription": {"id", "user_id", "stripe_customer_id", "stripe_subscription_id", "stripe_price_id", "status",
                         "current_period_end", "ended_at", "last_event_at", "cancel_at_period_end", "past_due_since",
                         "created_at", "updated_at"},
        "invoice_record": {"id", "user_id", "stripe_invoice_id", "amount_cents", "currency", "created_at"},
        "checkout_session": {"id", "user_id", "stripe_session_id", "url", "status", "created_at", "expires_at"},
    }


def test_the_pattern_catches_card_columns():
    for name in ("card_number", "cvc", "cvv2", "pan", "card_pan", "iban", "exp_month", "exp_year", "last4",
                 "card_brand", "cardholder_name"):
        assert CARD_DATA.search(name), name
    for name in ("stripe_customer_id", "amount_cents", "currency", "expires_at", "stripe_price_id", "panel_id"):
        assert not CARD_DATA.search(name), name


def test_money_columns_are_bigint(db):
    """Stripe amounts are cents in 64 bits; an INTEGER column fails at 2^31 cents (21 million euro) on PostgreSQL."""
    inspector = sa.inspect(get_engine())
    amount = {c["name"]: c["type"] for c in inspector.get_columns("invoice_record")}["amount_cents"]
    assert isinstance(amount, sa.BigInteger), repr(amount)
