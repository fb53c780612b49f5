"""An injectable clock: deadlines and audit timestamps never call ``datetime.now`` directly,
so tests can move time forward without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def require_aware(moment: datetime, what: str) -> datetime:
    """Naive datetimes are ambiguous across jurisdictions; refuse them instead of guessing."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must carry a timezone (e.g. 2026-05-19T12:00:00+00:00)")
    return moment.astimezone(UTC)
