"""Screening rate limit per API key, shared by every worker through the database.

Why the database: each screening answer leaks one bit ("some enrolled person is in it"), and the
limit is what bounds that oracle; a per-worker limit lets N workers allow N times as much. The
embedded default must work without Redis, so the counters live in the service's own database
(SQLite or PostgreSQL).

How: the window is cut into ``BUCKETS`` slices; each (key, slice) is one counter row. A request
is allowed when the counts of the slices that overlap the last window, including the oldest slice
in full, stay below the limit. Counting that slice in full makes the limit slightly stricter than
an exact sliding window (by at most one slice) and never looser: no interval of one window ever
holds more than ``limit`` allowed requests, on any number of workers.

Concurrency: every request of a key writes its current slice's row before reading the others, so
the row lock (PostgreSQL) or the database write lock (SQLite) makes the read-check-increment of one
key serial across workers; two workers creating the same slice row at once collide on its unique
constraint and the loser counts again.

Storage: the rows go into ``portal_throttles`` (a generic counter table: scope, key, count, window
start) under their own scope, which avoids a schema change; keys are ``<api key id>:<slice>``.
Rows older than a window are deleted when a key starts a new slice.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashwall.store import Database
from hashwall.store.portal_models import PortalThrottle

SCOPE = "likeness_screen"
#: Slices per window: the limit is exact to 1/BUCKETS of the window (stricter, never looser).
BUCKETS = 10


class RateLimiter:
    """``limit`` screening requests per ``window`` seconds and API key, across all workers."""

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or not window > 0:
            raise ValueError("the rate limit needs limit >= 1 and a positive window")
        self.limit = limit
        self.window = window
        self.slice = window / BUCKETS

    def check(self, db: Database, key_id: int, now: datetime | None = None) -> float | None:
        """Count one request of ``key_id``; or, when over the limit, the seconds to wait."""
        now = now or datetime.now(UTC)
        for attempt in (0, 1):
            try:
                with db.session() as session:
                    return self._check(session, key_id, now)
            except IntegrityError:  # another worker created this slice's row: count again
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, session: Session, key_id: int, now: datetime) -> float | None:
        current = math.floor(now.timestamp() / self.slice)
        oldest = current - BUCKETS
        where_current = (PortalThrottle.scope == SCOPE, PortalThrottle.key == f"{key_id}:{current}")
        # Write first: takes the row lock (PostgreSQL) or the write lock (SQLite) for this key.
        touched = session.execute(
            update(PortalThrottle).where(*where_current).values(count=PortalThrottle.count)
        )
        counts = self._counts(session, key_id, oldest, current)
        total = sum(counts.values())
        if total >= self.limit:
            return self._wait(counts, total, now)
        if touched.rowcount:  # type: ignore[attr-defined]
            session.execute(
                update(PortalThrottle).where(*where_current).values(count=PortalThrottle.count + 1)
            )
            return None
        start = datetime.fromtimestamp(current * self.slice, UTC)
        session.add(
            PortalThrottle(scope=SCOPE, key=f"{key_id}:{current}", count=1, window_start=start)
        )
        session.flush()
        self._forget_old(session, now)
        return None

    def _counts(self, session: Session, key_id: int, oldest: int, current: int) -> dict[int, int]:
        keys = {f"{key_id}:{index}": index for index in range(oldest, current + 1)}
        rows = session.execute(
            select(PortalThrottle.key, PortalThrottle.count).where(
                PortalThrottle.scope == SCOPE, PortalThrottle.key.in_(list(keys))
            )
        )
        return {keys[key]: count for key, count in rows if count}

    def _wait(self, counts: dict[int, int], total: int, now: datetime) -> float:
        """Seconds until enough old slices leave the window for one more request."""
        for index in sorted(counts):
            total -= counts[index]
            if total < self.limit:
                leaves = (index + 1) * self.slice + self.window
                return max(0.0, leaves - now.timestamp())
        return self.window  # pragma: no cover - the loop always ends below the limit

    def _forget_old(self, session: Session, now: datetime) -> None:
        """Delete every key's slices that can no longer count (once per key and slice)."""
        horizon = now - timedelta(seconds=self.window + 2 * self.slice)
        session.execute(
            delete(PortalThrottle).where(
                PortalThrottle.scope == SCOPE, PortalThrottle.window_start < horizon
            )
        )
