"""Removal deadlines: what the law fixes, what the platform targets, and where a case stands.

Pure functions over an injected "now", so the same code serves the reviewer queue, metrics and
the escalation timer, and tests use a fake clock. Every basis below is sourced in
docs/legal.md (statute section, official text, date checked). The defaults:

* US - 47 U.S.C. s. 223a(a)(3) (TAKE IT DOWN Act, s. 3): a covered platform removes the
  depiction "as soon as possible, but not later than 48 hours" after a valid request made
  through its own removal process, from 19 May 2026: *statutory*;
* AU - a person's request starts no statutory clock. The 24 hours of the Online Safety Act
  2021 (Cth) ss 77-79 run from an *eSafety removal notice* ("within 24 hours after the notice
  was given, or such longer period as the Commissioner allows"), recorded separately
  (:func:`regulator_notice_deadline`); requests get a configurable internal target (24 h);
* UK - the 48 hours of Online Safety Act 2023 s. 20A (inserted by the Crime and Policing Act
  2026) are not shown to be in force: an internal target for s. 10(3)(b) "swiftly take
  down" until the operator declares commencement (``uk_48h_in_force``);
* EU - DSA Art. 16(6) "timely, diligent, non-arbitrary and objective" and Art. 6(1)(b)
  "expeditiously" fix no hour count: an internal target (24 h by default).

Which of these bind depends on the *platform* (a covered platform in the US, a service
offered in the EU, a UK-regulated service, a service eSafety can give notices to), never on
where the requester lives: :class:`DeadlineConfig` ``regimes`` lists them, and a request's
deadline is the soonest of their deadlines (:func:`request_deadline`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hashwall.cases.clock import require_aware


class Jurisdiction(enum.StrEnum):
    US = "US"
    AU = "AU"
    UK = "UK"
    EU = "EU"


@dataclass(frozen=True)
class DeadlinePolicy:
    """How long a platform has to act on a valid request under one legal regime."""

    jurisdiction: Jurisdiction
    limit: timedelta
    statutory: bool  # False: an internal target where the law fixes no hour count
    basis: str


DEFAULT_POLICIES: dict[Jurisdiction, DeadlinePolicy] = {
    Jurisdiction.US: DeadlinePolicy(
        Jurisdiction.US,
        timedelta(hours=48),
        True,
        "TAKE IT DOWN Act, 47 U.S.C. § 223a(a)(3): within 48 hours of a valid request made "
        "through the platform's removal process (covered platforms, from 19 May 2026)",
    ),
    Jurisdiction.AU: DeadlinePolicy(
        Jurisdiction.AU,
        timedelta(hours=24),
        False,
        "internal target: a person's request starts no statutory clock in Australia; the "
        "24 hours of the Online Safety Act 2021 (Cth) ss 77-79 run from an eSafety removal "
        "notice",
    ),
    Jurisdiction.UK: DeadlinePolicy(
        Jurisdiction.UK,
        timedelta(hours=48),
        False,
        'internal target for Online Safety Act 2023 s. 10(3)(b) "swiftly take down"; the 48 '
        "hours of s. 20A (Crime and Policing Act 2026) are not shown to be in force",
    ),
    Jurisdiction.EU: DeadlinePolicy(
        Jurisdiction.EU,
        timedelta(hours=24),
        False,
        "internal target for DSA Art. 16(6) (timely, diligent, non-arbitrary, objective) and "
        "Art. 6(1)(b) (expeditiously); the DSA fixes no hour count",
    ),
}
#: The UK policy once the operator declares s. 20A in force (``uk_48h_in_force``).
UK_IN_FORCE_BASIS = (
    "Online Safety Act 2023 s. 20A (inserted by the Crime and Policing Act 2026): within 48 "
    "hours of a valid intimate image content report"
)
#: An eSafety removal notice (Online Safety Act 2021 (Cth) ss 77-79) given to the platform.
ESAFETY_NOTICE_PERIOD = timedelta(hours=24)
ESAFETY_NOTICE_BASIS = (
    "Online Safety Act 2021 (Cth) ss 77-79: within 24 hours after the eSafety removal notice "
    "was given, or such longer period as the Commissioner allows"
)
ALL_REGIMES = frozenset(Jurisdiction)


class DeadlineState(enum.StrEnum):
    DUE = "due"  # open, comfortably before the deadline
    SOON_DUE = "soon_due"  # open, inside the soon-due window
    OVERDUE = "overdue"  # open, past the deadline
    MET = "met"  # decided on or before the deadline
    MISSED = "missed"  # decided after the deadline


@dataclass(frozen=True)
class DeadlineConfig:
    """The platform's legal regimes, their limits, and the two warning windows.

    ``regimes`` are the regimes the *platform* is subject to (all four by default: the
    strictest reading for an operator who has not said); ``uk_48h_in_force`` is for the day
    the UK's s. 20A is commenced."""

    policies: Mapping[Jurisdiction, DeadlinePolicy] = field(
        default_factory=lambda: dict(DEFAULT_POLICIES)
    )
    soon_due_within: timedelta = timedelta(hours=6)
    escalate_before: timedelta = timedelta(hours=6)
    regimes: frozenset[Jurisdiction] = ALL_REGIMES
    uk_48h_in_force: bool = False

    def __post_init__(self) -> None:
        missing = [j.value for j in Jurisdiction if j not in self.policies]
        if missing:
            raise ValueError(f"no deadline configured for {', '.join(missing)}")
        if not self.regimes:
            raise ValueError("regimes: name at least one of US, EU, UK, AU")
        for jurisdiction in Jurisdiction:
            policy = self.policy(jurisdiction)
            if policy.limit <= timedelta(0):
                raise ValueError(f"{policy.jurisdiction.value} deadline must be positive")
            if policy.statutory and policy.limit > DEFAULT_POLICIES[policy.jurisdiction].limit:
                raise ValueError(
                    f"{policy.jurisdiction.value} deadline ({format_duration(policy.limit)}) "
                    "is longer than the law allows "
                    f"({format_duration(DEFAULT_POLICIES[policy.jurisdiction].limit)})"
                )
            self._check_windows(policy.limit, policy.jurisdiction.value)
        self._check_windows(ESAFETY_NOTICE_PERIOD, "eSafety notice")

    def _check_windows(self, limit: timedelta, what: str) -> None:
        for name in ("soon_due_within", "escalate_before"):
            window: timedelta = getattr(self, name)
            if not timedelta(0) <= window < limit:
                raise ValueError(
                    f"{name} ({format_duration(window)}) must be shorter than the "
                    f"{what} deadline ({format_duration(limit)})"
                )

    def policy(self, jurisdiction: Jurisdiction) -> DeadlinePolicy:
        """One regime's policy, the UK's as the operator declared it."""
        policy = self.policies[jurisdiction]
        if jurisdiction is Jurisdiction.UK and self.uk_48h_in_force:
            return replace(policy, statutory=True, basis=UK_IN_FORCE_BASIS)
        return policy

    @classmethod
    def from_mapping(
        cls,
        raw: Mapping[str, str],
        *,
        regimes: Iterable[Jurisdiction] = ALL_REGIMES,
        uk_48h_in_force: bool = False,
    ) -> DeadlineConfig:
        """Settings as strings, e.g. ``{"EU": "12h", "escalate_before": "4h"}``.

        Jurisdiction keys replace the limit; a legal deadline can be shortened, never
        lengthened, and an internal target stays a target."""
        policies = dict(DEFAULT_POLICIES)
        windows: dict[str, timedelta] = {}
        for key, value in raw.items():
            if key in ("soon_due_within", "escalate_before"):
                windows[key] = parse_duration(value, key)
                continue
            jurisdiction = parse_jurisdiction(
                key, "deadline setting", extra="soon_due_within or escalate_before"
            )
            old = policies[jurisdiction]
            policies[jurisdiction] = replace(old, limit=parse_duration(value, key))
        return cls(
            policies=policies,
            regimes=frozenset(regimes),
            uk_48h_in_force=uk_48h_in_force,
            **windows,
        )


def parse_jurisdiction(text: str, what: str, extra: str = "") -> Jurisdiction:
    """``"eu"`` -> ``Jurisdiction.EU``; anything else is a one-line ValueError."""
    try:
        return Jurisdiction(text.strip().upper())
    except ValueError:
        known = ", ".join(j.value for j in Jurisdiction)
        also = f" or {extra}" if extra else ""
        raise ValueError(f"unknown {what} {text!r}: use {known}{also}") from None


def parse_regimes(text: str) -> frozenset[Jurisdiction]:
    """``"US,EU"`` -> the platform's regimes; empty or unknown names are a ValueError."""
    names = [part for part in text.replace(" ", "").split(",") if part]
    if not names:
        raise ValueError("takedown_regimes: name at least one of US, EU, UK, AU")
    return frozenset(parse_jurisdiction(name, "regime") for name in names)


@dataclass(frozen=True)
class Deadline:
    """When a case must be decided, and what fixes that time.

    ``statutory`` says whether ``due_at`` itself is set by law; ``legal_due_at`` is the
    soonest legal deadline among the platform's regimes (None where no law fixes one), which
    may be later than an internal target in ``due_at``."""

    jurisdiction: Jurisdiction
    received_at: datetime
    due_at: datetime
    escalate_at: datetime
    soon_due_at: datetime
    statutory: bool
    basis: str = ""
    legal_due_at: datetime | None = None


def _deadline(received_at: datetime, policy: DeadlinePolicy, config: DeadlineConfig) -> Deadline:
    due = received_at + policy.limit
    return Deadline(
        jurisdiction=policy.jurisdiction,
        received_at=received_at,
        due_at=due,
        escalate_at=due - config.escalate_before,
        soon_due_at=due - config.soon_due_within,
        statutory=policy.statutory,
        basis=policy.basis,
        legal_due_at=due if policy.statutory else None,
    )


def deadline_for(
    received_at: datetime, jurisdiction: Jurisdiction, config: DeadlineConfig
) -> Deadline:
    """The deadline one regime alone sets for a request received at ``received_at``."""
    received_at = require_aware(received_at, "received_at")
    return _deadline(received_at, config.policy(jurisdiction), config)


def request_deadline(
    received_at: datetime,
    config: DeadlineConfig,
    *,
    incomplete_for: Collection[Jurisdiction] = (),
) -> Deadline:
    """The deadline of a request to a platform subject to ``config.regimes``.

    The platform works to the soonest of its regimes' deadlines (a legal one wins a tie, so a
    case is never shown as "only a target" when the law sets the same time).
    ``incomplete_for`` names the regimes whose statute this request does not satisfy (an
    anonymous report lacks the signature and contact details 47 U.S.C. s. 223a(a)(1)(B)
    requires): there it gets the same working deadline but claims no legal one."""
    received_at = require_aware(received_at, "received_at")
    candidates = [
        _as_target(deadline) if regime in incomplete_for else deadline
        for regime in config.regimes
        for deadline in [deadline_for(received_at, regime, config)]
    ]
    soonest = min(candidates, key=lambda d: (d.due_at, not d.statutory, d.jurisdiction.value))
    legal = [d.due_at for d in candidates if d.statutory]
    return replace(soonest, legal_due_at=min(legal) if legal else None)


def _as_target(deadline: Deadline) -> Deadline:
    if not deadline.statutory:
        return deadline
    basis = f"internal target (the request lacks what the statute's clock needs: {deadline.basis})"
    return replace(deadline, statutory=False, basis=basis, legal_due_at=None)


def regulator_notice_deadline(
    given_at: datetime, config: DeadlineConfig, period: timedelta = ESAFETY_NOTICE_PERIOD
) -> Deadline:
    """The statutory deadline of an eSafety removal notice given at ``given_at``.

    ``period`` is 24 hours unless the Commissioner allowed longer; shorter is refused because
    the Act fixes 24 hours as the minimum a notice gives."""
    given_at = require_aware(given_at, "given_at")
    if period < ESAFETY_NOTICE_PERIOD:
        raise ValueError(
            f"period ({format_duration(period)}): an eSafety removal notice gives at least 24 "
            "hours (Online Safety Act 2021 (Cth) ss 77-79)"
        )
    basis = ESAFETY_NOTICE_BASIS
    if period != ESAFETY_NOTICE_PERIOD:
        basis += f" (the Commissioner allowed {format_duration(period)})"
    policy = DeadlinePolicy(Jurisdiction.AU, period, True, basis)
    return _deadline(given_at, policy, config)


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
