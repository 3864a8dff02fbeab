"""Support: tickets, and privacy requests with their legal deadline (policy clause 8)."""
