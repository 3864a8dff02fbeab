"""Billing with Stripe: the client, the webhook, and (later) checkout, portal and reconciliation."""
