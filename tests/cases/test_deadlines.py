"""Deadlines per jurisdiction against a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashwall.cases.deadlines import (
    DeadlineConfig,
    DeadlineState,
    Jurisdiction,
    deadline_for,
    deadline_state,
    format_duration,
    parse_duration,
    parse_regimes,
    regulator_notice_deadline,
    request_deadline,
    should_escalate,
    time_left,
)
from tests.cases.conftest import START, FakeClock

J = Jurisdiction


@pytest.mark.parametrize(
    ("jurisdiction", "hours", "statutory"),
    # Only the US clock runs from a person's request (47 U.S.C. s. 223a(a)(3)); AU's runs from
    # an eSafety notice, the UK's 48 h is not in force, the DSA fixes no hour count.
    [(J.US, 48, True), (J.AU, 24, False), (J.UK, 48, False), (J.EU, 24, False)],
)
def test_default_deadlines(jurisdiction: Jurisdiction, hours: int, statutory: bool) -> None:
    deadline = deadline_for(START, jurisdiction, DeadlineConfig())
    assert deadline.due_at == START + timedelta(hours=hours)
    assert deadline.statutory is statutory
    assert deadline.escalate_at == deadline.due_at - timedelta(hours=6)
    assert (deadline.legal_due_at is not None) is statutory
    assert deadline.basis


def test_the_bases_cite_the_right_provisions() -> None:
    config = DeadlineConfig()
    assert "223a(a)(3)" in config.policy(J.US).basis
    assert "internal target" in config.policy(J.AU).basis
    assert "eSafety removal notice" in config.policy(J.AU).basis
    assert "10(3)(b)" in config.policy(J.UK).basis and "not shown" in config.policy(J.UK).basis
    assert "16(6)" in config.policy(J.EU).basis and "6(1)(b)" in config.policy(J.EU).basis
    assert "undue delay" not in config.policy(J.EU).basis  # that is Art. 16(4)-(5)


def test_uk_becomes_statutory_only_when_the_operator_says_it_is_in_force() -> None:
    assert deadline_for(START, J.UK, DeadlineConfig()).statutory is False
    in_force = DeadlineConfig(uk_48h_in_force=True)
    deadline = deadline_for(START, J.UK, in_force)
    assert deadline.statutory and deadline.legal_due_at == START + timedelta(hours=48)
    assert "s. 20A" in deadline.basis


def test_an_esafety_notice_starts_the_statutory_24_hours() -> None:
    given = START + timedelta(hours=30)
    deadline = regulator_notice_deadline(given, DeadlineConfig())
    assert deadline.due_at == given + timedelta(hours=24) and deadline.statutory
    assert "ss 77-79" in deadline.basis and deadline.jurisdiction is J.AU
    longer = regulator_notice_deadline(given, DeadlineConfig(), timedelta(hours=72))
    assert longer.due_at == given + timedelta(hours=72) and "allowed 72h" in longer.basis
    with pytest.raises(ValueError, match="at least 24 hours"):
        regulator_notice_deadline(given, DeadlineConfig(), timedelta(hours=12))


def test_a_request_gets_the_soonest_deadline_of_the_platforms_regimes() -> None:
    everything = request_deadline(START, DeadlineConfig())
    assert everything.due_at == START + timedelta(hours=24) and not everything.statutory
    assert everything.legal_due_at == START + timedelta(hours=48)  # the US 48 h still binds
    us_only = request_deadline(START, DeadlineConfig(regimes=frozenset({J.US})))
    assert us_only.due_at == START + timedelta(hours=48) and us_only.statutory
    assert us_only.legal_due_at == us_only.due_at
    eu_only = request_deadline(START, DeadlineConfig(regimes=frozenset({J.EU})))
    assert not eu_only.statutory and eu_only.legal_due_at is None


def test_a_legal_deadline_wins_a_tie_with_a_target() -> None:
    config = DeadlineConfig.from_mapping({"EU": "48h", "AU": "48h"})
    deadline = request_deadline(START, config)
    assert deadline.due_at == START + timedelta(hours=48)
    assert deadline.statutory and deadline.jurisdiction is J.US


def test_an_anonymous_report_claims_no_legal_deadline() -> None:
    config = DeadlineConfig(regimes=frozenset({J.US}))
    deadline = request_deadline(START, config, incomplete_for={J.US})
    assert deadline.due_at == START + timedelta(hours=48)
    assert not deadline.statutory and deadline.legal_due_at is None
    assert "lacks what the statute's clock needs" in deadline.basis


@given(
    regimes=st.sets(st.sampled_from(list(J)), min_size=1),
    hours=st.dictionaries(st.sampled_from(list(J)), st.integers(7, 48)),
    uk_in_force=st.booleans(),
)
def test_request_deadline_is_the_minimum_over_regimes(
    regimes: set[Jurisdiction], hours: dict[Jurisdiction, int], uk_in_force: bool
) -> None:
    config = DeadlineConfig.from_mapping(
        {j.value: f"{h}h" for j, h in hours.items()},
        regimes=regimes,
        uk_48h_in_force=uk_in_force,
    )
    deadline = request_deadline(START, config)
    singles = [deadline_for(START, regime, config) for regime in regimes]
    assert deadline.due_at == min(single.due_at for single in singles)
    legal = [single.due_at for single in singles if single.statutory]
    assert deadline.legal_due_at == (min(legal) if legal else None)
    if deadline.statutory:
        assert deadline.legal_due_at == deadline.due_at


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
    assert parse_regimes(" us, EU ") == {J.US, J.EU}
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
        ({"US": "72h"}, "longer than the law allows \\(48h\\)"),
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


@pytest.mark.parametrize("text", ["", " , ", "US,FR"])
def test_bad_regimes_are_one_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"US, AU, UK, EU|at least one"):
        parse_regimes(text)


def test_the_uk_deadline_cannot_be_lengthened_once_in_force() -> None:
    DeadlineConfig.from_mapping({"UK": "72h"})  # a target may be anything
    with pytest.raises(ValueError, match="longer than the law allows"):
        DeadlineConfig.from_mapping({"UK": "72h"}, uk_48h_in_force=True)
