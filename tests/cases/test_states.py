"""The removal-request state machine: every allowed path, every forbidden one, and a
Hypothesis state machine that drives random event sequences against a model of the rules."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hashwall.cases.states import (
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    CaseEvent,
    CaseState,
    CaseStatus,
    TransitionError,
    apply,
)

S, E = CaseState, CaseEvent


def run(*events: CaseEvent | tuple[CaseEvent, str]) -> CaseStatus:
    status = CaseStatus()
    for item in events:
        event, reason = item if isinstance(item, tuple) else (item, None)
        status = apply(status, event, reason=reason)
    return status


def test_removal_path() -> None:
    status = run(E.START_REVIEW, E.ACTION, E.NOTIFY, E.CLOSE)
    assert status.state is S.CLOSED and status.terminal


def test_rejection_keeps_reason_and_appeal_reopens_review_once() -> None:
    status = run(E.START_REVIEW, (E.REJECT, "  not on this platform "), E.NOTIFY)
    assert status.state is S.REQUESTER_NOTIFIED
    assert status.rejection_reason == "not on this platform"
    status = apply(status, E.APPEAL)
    assert (status.state, status.appeals) == (S.APPEALED, 1)
    status = apply(apply(status, E.START_REVIEW), E.ACTION)
    assert status.rejection_reason is None  # the later decision replaces the earlier one
    status = apply(status, E.NOTIFY)
    with pytest.raises(TransitionError, match="no appeal left"):
        apply(status, E.APPEAL)
    assert apply(status, E.CLOSE).state is S.CLOSED


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 2001])
def test_rejection_needs_a_readable_reason(reason: str | None) -> None:
    with pytest.raises(TransitionError, match="reason"):
        apply(run(E.START_REVIEW), E.REJECT, reason=reason)


def test_reason_only_for_rejections() -> None:
    with pytest.raises(TransitionError, match="takes no reason"):
        apply(CaseStatus(), E.START_REVIEW, reason="why")


@pytest.mark.parametrize("state", [S.RECEIVED, S.UNDER_REVIEW, S.APPEALED])
def test_withdrawal_only_before_a_decision(state: CaseState) -> None:
    assert apply(CaseStatus(state=state), E.WITHDRAW).state is S.WITHDRAWN


@pytest.mark.parametrize("state", [S.ACTIONED, S.REJECTED, S.REQUESTER_NOTIFIED, S.CLOSED])
def test_no_withdrawal_after_a_decision(state: CaseState) -> None:
    with pytest.raises(TransitionError):
        apply(CaseStatus(state=state), E.WITHDRAW)


def test_cannot_close_before_the_requester_is_told() -> None:
    for state in (S.RECEIVED, S.UNDER_REVIEW, S.ACTIONED, S.REJECTED, S.APPEALED):
        with pytest.raises(TransitionError, match="cannot close"):
            apply(CaseStatus(state=state), E.CLOSE)


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("event", list(CaseEvent))
def test_terminal_states_accept_nothing(state: CaseState, event: CaseEvent) -> None:
    with pytest.raises(TransitionError, match="final"):
        apply(CaseStatus(state=state), event, reason="r")


def test_every_non_terminal_state_has_a_way_out_and_terminal_ones_none() -> None:
    sources = {state for state, _ in TRANSITIONS}
    assert sources == set(CaseState) - TERMINAL_STATES
    assert sources > OPEN_STATES


# A model of the rules written differently from the table: per state, the events allowed.
MODEL: dict[CaseState, set[CaseEvent]] = {
    S.RECEIVED: {E.START_REVIEW, E.WITHDRAW},
    S.UNDER_REVIEW: {E.ACTION, E.REJECT, E.WITHDRAW},
    S.ACTIONED: {E.NOTIFY},
    S.REJECTED: {E.NOTIFY},
    S.REQUESTER_NOTIFIED: {E.APPEAL, E.CLOSE},
    S.APPEALED: {E.START_REVIEW, E.WITHDRAW},
    S.WITHDRAWN: set(),
    S.CLOSED: set(),
}
NEXT = {
    E.START_REVIEW: S.UNDER_REVIEW,
    E.ACTION: S.ACTIONED,
    E.REJECT: S.REJECTED,
    E.NOTIFY: S.REQUESTER_NOTIFIED,
    E.APPEAL: S.APPEALED,
    E.WITHDRAW: S.WITHDRAWN,
    E.CLOSE: S.CLOSED,
}


class CaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.status = CaseStatus()
        self.appeals = 0
        self.decided_by_reject = False

    @rule(event=st.sampled_from(list(CaseEvent)), reason=st.sampled_from(["", "duplicate"]))
    def send(self, event: CaseEvent, reason: str) -> None:
        allowed = event in MODEL[self.status.state]
        if event is E.APPEAL and self.appeals >= 1:
            allowed = False
        if event is E.REJECT and not reason:
            allowed = False
        before = self.status
        try:
            after = apply(before, event, reason=reason if event is E.REJECT else None)
        except TransitionError:
            assert not allowed, f"{event} refused in {before.state}"
            assert self.status == before
            return
        assert allowed, f"{event} accepted in {before.state}"
        assert after.state is NEXT[event]
        if event is E.APPEAL:
            self.appeals += 1
        if event is E.REJECT:
            assert after.rejection_reason == reason
        self.status = after

    @invariant()
    def consistent(self) -> None:
        assert self.status.appeals == self.appeals <= self.status.max_appeals
        assert (self.status.state in TERMINAL_STATES) == self.status.terminal
        assert set(self.status.allowed_events()) == MODEL[self.status.state] - (
            {E.APPEAL} if self.appeals >= 1 else set()
        )
        if self.status.state is S.REJECTED:
            assert self.status.rejection_reason


TestCaseMachine = CaseMachine.TestCase
TestCaseMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
