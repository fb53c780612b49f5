"""Readiness for load balancers: can this worker reach its database right now?

``/v1/health`` says the process is alive; a load balancer also needs to know when to stop
sending a host traffic it cannot serve (its database unreachable, say during a PostgreSQL
failover), without a key. That check must cost the server a bounded amount whatever the
request rate: one ``SELECT 1`` per worker per ``ttl`` at most, the others reuse its answer,
and a check never waits behind another (a hanging database costs one thread, not one per
request).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from hashwall.store import Database

#: Seconds a readiness answer is reused.
READY_TTL_SECONDS = 1.0


class Readiness:
    def __init__(self, db: Database, ttl: float = READY_TTL_SECONDS) -> None:
        self.db = db
        self.ttl = ttl
        self._ready = True
        self._checked_at = float("-inf")
        self._checking = threading.Lock()

    def ready(self) -> bool:
        """The last answer, refreshed first when it is older than ``ttl`` and no other
        thread is refreshing it already."""
        if time.monotonic() - self._checked_at >= self.ttl and self._checking.acquire(
            blocking=False
        ):
            try:
                self._ready = self._probe()
                self._checked_at = time.monotonic()
            finally:
                self._checking.release()
        return self._ready

    def _probe(self) -> bool:
        try:
            with self.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True
