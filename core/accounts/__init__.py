"""Accounts: users, passwords and lockout, server-side sessions, one-time links (signing is core.signing)."""
