"""Outgoing webhooks: endpoints, Standard Webhooks signatures, the delivery outbox and SSRF guards.

Incoming Stripe events stay in ``core.billing``.
"""
