"""Outbound network rules shared by the service (webhooks, takedown, exchanges) and the
scanner (``hashwall scan`` fetching URL lists): pure standard-library code, no server imports."""
