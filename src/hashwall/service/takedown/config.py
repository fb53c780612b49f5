"""Takedown settings turned into objects, and the clock every takedown module reads.

The deadlines come from ``HASHWALL_TAKEDOWN_DEADLINES`` (``EU=12h,escalate_before=6h``), the
platform's legal regimes from ``HASHWALL_TAKEDOWN_REGIMES`` (``US,EU``) and the UK's commencement
from ``HASHWALL_TAKEDOWN_UK_48H_IN_FORCE``; all are checked when the settings load, so a typo
stops the server at start instead of at the first request. The clock is injectable (tests move
time forward without sleeping); it is kept on the service state object so that one worker's
modules agree on "now".
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hashwall.cases.clock import Clock, SystemClock
from hashwall.cases.deadlines import DeadlineConfig, parse_regimes

if TYPE_CHECKING:
    from hashwall.service.settings import Settings

_CLOCK_ATTRIBUTE = "takedown_clock"
_SYSTEM = SystemClock()


@lru_cache(maxsize=16)
def _parse_deadlines(text: str, regimes: str, uk_48h_in_force: bool) -> DeadlineConfig:
    pairs: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(
                f"takedown_deadlines: {part.strip()!r} is not KEY=DURATION (e.g. EU=12h)"
            )
        pairs[key.strip()] = value.strip()
    return DeadlineConfig.from_mapping(
        pairs, regimes=parse_regimes(regimes), uk_48h_in_force=uk_48h_in_force
    )


def deadline_config(settings: Settings) -> DeadlineConfig:
    """The platform's regimes, deadlines and warning windows these settings configure."""
    return _parse_deadlines(
        settings.takedown_deadlines,
        settings.takedown_regimes,
        settings.takedown_uk_48h_in_force,
    )


def _check_url(value: str, name: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, not {value!r}")


def check_takedown_settings(settings: Settings) -> None:
    """Refuse settings that would fail later: bad deadlines, a webhook without a secret."""
    deadline_config(settings)
    urls = {
        "takedown_webhook_url": settings.takedown_webhook_url,
        "takedown_escalation_url": settings.takedown_escalation_url,
    }
    for name, value in urls.items():
        if value:
            _check_url(value, name)
            if not settings.takedown_webhook_secret:
                raise ValueError(
                    f"{name} is set but takedown_webhook_secret is empty: the platform needs "
                    "the secret to check the signature (HASHWALL_TAKEDOWN_WEBHOOK_SECRET)"
                )


def escalation_url(settings: Settings) -> str:
    return settings.takedown_escalation_url or settings.takedown_webhook_url


def clock_for(state: Any) -> Clock:
    """The clock of this service state (the system clock unless a test set another)."""
    clock = getattr(state, _CLOCK_ATTRIBUTE, None)
    return clock if clock is not None else _SYSTEM


def use_clock(state: Any, clock: Clock) -> None:
    """Make every takedown function on ``state`` read time from ``clock`` (tests)."""
    setattr(state, _CLOCK_ATTRIBUTE, clock)


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
