"""Deadlines per jurisdiction against a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hashwall.cases.deadlines import (
    DeadlineConfig,
    DeadlineState,
    Jurisdiction,
    deadline_for,
    deadline_state,
    format_duration,
    parse_duration,
    should_escalate,
    time_left,
)
from tests.cases.conftest import START, FakeClock

J = Jurisdiction


@pytest.mark.parametrize(
    ("jurisdiction", "hours", "statutory"),
    [(J.US, 48, True), (J.AU, 24, True), (J.UK, 48, True), (J.EU, 24, False)],
)
def test_default_deadlines(jurisdiction: Jurisdiction, hours: int, statutory: bool) -> None:
    deadline = deadline_for(START, jurisdiction, DeadlineConfig())
    assert deadline.due_at == START + timedelta(hours=hours)
    assert deadline.statutory is statutory
    assert deadline.escalate_at == deadline.due_at - timedelta(hours=6)


def test_states_move_with_the_clock(clock: FakeClock) -> None:
    config = DeadlineConfig(soon_due_within=timedelta(hours=4), escalate_before=timedelta(hours=2))
    deadline = deadline_for(clock.now(), J.AU, config)
    assert deadline_state(deadline, clock.now()) is DeadlineState.DUE
    clock.advance(hours=19, minutes=59)
    assert deadline_state(deadline, clock.now()) is DeadlineState.DUE
    clock.advance(minutes=1)  # 20 h: 4 h left
    assert deadline_state(deadline, clock.now()) is DeadlineState.SOON_DUE
    assert not should_escalate(deadline, clock.now())
    clock.advance(hours=2)  # 2 h left
    assert should_escalate(deadline, clock.now())
    assert not should_escalate(deadline, clock.now(), decided_at=clock.now())
    clock.advance(hours=2)  # exactly at the deadline: still not overdue
    assert deadline_state(deadline, clock.now()) is DeadlineState.SOON_DUE
    assert time_left(deadline, clock.now()) == timedelta(0)
    clock.advance(seconds=1)
    assert deadline_state(deadline, clock.now()) is DeadlineState.OVERDUE
    assert time_left(deadline, clock.now()) == timedelta(seconds=-1)


def test_decided_cases_met_or_missed() -> None:
    deadline = deadline_for(START, J.US, DeadlineConfig())
    later = START + timedelta(days=10)
    assert deadline_state(deadline, later, decided_at=deadline.due_at) is DeadlineState.MET
    missed = deadline.due_at + timedelta(seconds=1)
    assert deadline_state(deadline, later, decided_at=missed) is DeadlineState.MISSED


def test_other_time_zones_are_the_same_instant() -> None:
    sydney = timezone(timedelta(hours=10))
    local = START.astimezone(sydney)
    assert deadline_for(local, J.AU, DeadlineConfig()).due_at == START + timedelta(hours=24)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        deadline_for(datetime(2026, 5, 19, 9), J.US, DeadlineConfig())
    deadline = deadline_for(START, J.US, DeadlineConfig())
    with pytest.raises(ValueError, match="timezone"):
        deadline_state(deadline, datetime(2026, 5, 19, 9))


def test_configuration_from_strings() -> None:
    config = DeadlineConfig.from_mapping({"eu": "12h", "escalate_before": "90m", "US": "1d"})
    assert config.policies[J.EU].limit == timedelta(hours=12)
    assert config.policies[J.EU].statutory is False
    assert config.policies[J.US].limit == timedelta(days=1)
    assert config.escalate_before == timedelta(minutes=90)
    assert deadline_for(START, J.EU, config).due_at == START + timedelta(hours=12)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"FR": "24h"}, "unknown deadline setting 'FR'"),
        ({"US": "soon"}, "not a duration"),
        ({"AU": "0h"}, "must be positive"),
        ({"escalate_before": "30h"}, "escalate_before \\(30h\\) must be shorter than the AU"),
        ({"soon_due_within": "2d"}, "soon_due_within"),
    ],
)
def test_bad_configuration_is_one_clear_error(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeadlineConfig.from_mapping(raw)


def test_durations() -> None:
    assert parse_duration("1.5d") == timedelta(hours=36)
    assert parse_duration(" 45 M ") == timedelta(minutes=45)
    assert format_duration(timedelta(hours=48)) == "48h"
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert START.tzinfo is UTC
