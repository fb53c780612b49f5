"""Removal deadlines per jurisdiction, and whether a case is due, soon due or overdue.

Pure functions over an injected "now", so the same code serves the reviewer queue, metrics and
the escalation timer, and tests use a fake clock. Defaults, all configurable:

* US - TAKE IT DOWN Act s. 3: "as soon as possible, but not later than 48 hours";
* AU - eSafety removal notices (Online Safety Act 2021): 24 hours;
* UK - 48 hours (the announced target for intimate image abuse);
* EU - DSA Art. 16: "without undue delay"; no fixed statutory hour count, so a configurable
  internal *target* (24 h by default) is used and marked ``statutory=False``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hashwall.cases.clock import require_aware


class Jurisdiction(enum.StrEnum):
    US = "US"
    AU = "AU"
    UK = "UK"
    EU = "EU"


@dataclass(frozen=True)
class DeadlinePolicy:
    """How long a platform has to act on a valid request in one jurisdiction."""

    jurisdiction: Jurisdiction
    limit: timedelta
    statutory: bool  # False: an internal target standing in for "without undue delay"
    basis: str


DEFAULT_POLICIES: dict[Jurisdiction, DeadlinePolicy] = {
    Jurisdiction.US: DeadlinePolicy(
        Jurisdiction.US, timedelta(hours=48), True, "TAKE IT DOWN Act s. 3: within 48 hours"
    ),
    Jurisdiction.AU: DeadlinePolicy(
        Jurisdiction.AU, timedelta(hours=24), True, "Online Safety Act 2021 (Cth): 24 hours"
    ),
    Jurisdiction.UK: DeadlinePolicy(
        Jurisdiction.UK, timedelta(hours=48), True, "UK intimate image abuse: 48 hours"
    ),
    Jurisdiction.EU: DeadlinePolicy(
        Jurisdiction.EU,
        timedelta(hours=24),
        False,
        "DSA Art. 16: without undue delay (internal target)",
    ),
}


class DeadlineState(enum.StrEnum):
    DUE = "due"  # open, comfortably before the deadline
    SOON_DUE = "soon_due"  # open, inside the soon-due window
    OVERDUE = "overdue"  # open, past the deadline
    MET = "met"  # decided on or before the deadline
    MISSED = "missed"  # decided after the deadline


@dataclass(frozen=True)
class DeadlineConfig:
    """Per-jurisdiction limits plus the two warning windows before a deadline."""

    policies: Mapping[Jurisdiction, DeadlinePolicy] = field(
        default_factory=lambda: dict(DEFAULT_POLICIES)
    )
    soon_due_within: timedelta = timedelta(hours=6)
    escalate_before: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        missing = [j.value for j in Jurisdiction if j not in self.policies]
        if missing:
            raise ValueError(f"no deadline configured for {', '.join(missing)}")
        for policy in self.policies.values():
            if policy.limit <= timedelta(0):
                raise ValueError(f"{policy.jurisdiction.value} deadline must be positive")
            for name in ("soon_due_within", "escalate_before"):
                window: timedelta = getattr(self, name)
                if not timedelta(0) <= window < policy.limit:
                    raise ValueError(
                        f"{name} ({format_duration(window)}) must be shorter than the "
                        f"{policy.jurisdiction.value} deadline ({format_duration(policy.limit)})"
                    )

    @classmethod
    def from_mapping(cls, raw: Mapping[str, str]) -> DeadlineConfig:
        """Settings as strings, e.g. ``{"EU": "12h", "escalate_before": "4h"}``.

        Jurisdiction keys replace the limit (the EU one stays a non-statutory target)."""
        policies = dict(DEFAULT_POLICIES)
        windows: dict[str, timedelta] = {}
        for key, value in raw.items():
            if key in ("soon_due_within", "escalate_before"):
                windows[key] = parse_duration(value, key)
                continue
            try:
                jurisdiction = Jurisdiction(key.upper())
            except ValueError:
                known = ", ".join(j.value for j in Jurisdiction)
                raise ValueError(
                    f"unknown deadline setting {key!r}: use {known}, soon_due_within or "
                    "escalate_before"
                ) from None
            old = policies[jurisdiction]
            policies[jurisdiction] = DeadlinePolicy(
                jurisdiction, parse_duration(value, key), old.statutory, old.basis
            )
        return cls(policies=policies, **windows)


@dataclass(frozen=True)
class Deadline:
    jurisdiction: Jurisdiction
    received_at: datetime
    due_at: datetime
    escalate_at: datetime
    soon_due_at: datetime
    statutory: bool


def deadline_for(
    received_at: datetime, jurisdiction: Jurisdiction, config: DeadlineConfig
) -> Deadline:
    """The deadline of a request received at ``received_at``."""
    received_at = require_aware(received_at, "received_at")
    policy = config.policies[jurisdiction]
    due = received_at + policy.limit
    return Deadline(
        jurisdiction=jurisdiction,
        received_at=received_at,
        due_at=due,
        escalate_at=due - config.escalate_before,
        soon_due_at=due - config.soon_due_within,
        statutory=policy.statutory,
    )


def deadline_state(
    deadline: Deadline, now: datetime, decided_at: datetime | None = None
) -> DeadlineState:
    """Where a case stands against its deadline; once decided, whether the deadline was met.

    The deadline is inclusive: a decision exactly at ``due_at`` meets it."""
    now = require_aware(now, "now")
    if decided_at is not None:
        decided = require_aware(decided_at, "decided_at")
        return DeadlineState.MET if decided <= deadline.due_at else DeadlineState.MISSED
    if now > deadline.due_at:
        return DeadlineState.OVERDUE
    if now >= deadline.soon_due_at:
        return DeadlineState.SOON_DUE
    return DeadlineState.DUE


def should_escalate(deadline: Deadline, now: datetime, decided_at: datetime | None = None) -> bool:
    """True from the escalation time on, for as long as the case is undecided."""
    return decided_at is None and require_aware(now, "now") >= deadline.escalate_at


def time_left(deadline: Deadline, now: datetime) -> timedelta:
    """Negative once overdue."""
    return deadline.due_at - require_aware(now, "now")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$", re.IGNORECASE)
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """``"48h"``, ``"90m"``, ``"1.5d"``; anything else is a one-line ValueError."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{what}: {text!r} is not a duration like 48h, 90m or 2d")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def format_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes}m"
    return f"{minutes // 60}h"
