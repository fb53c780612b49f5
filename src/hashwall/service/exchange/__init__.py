"""Exchanges: share banks with python-threatexchange files, StopNCII and other hashwall
instances (signed bundles). Everything here works on a :class:`~hashwall.store.Database`, so the
API routes and the ``hashwall exchange`` CLI (which runs against the database directly) share
one implementation; the routes additionally apply changes to their worker's index at once.
"""
