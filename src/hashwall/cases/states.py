"""The removal-request state machine.

Kept free of I/O and of pydantic so the service, the CLI and the property tests share one
definition of what may happen to a case. A case moves::

    received --start_review--> under_review --action--> actioned --notify--> requester_notified
                                            \\--reject(reason)--> rejected --notify--/
    requester_notified --appeal--> appealed --start_review--> under_review   (at most max_appeals)
    requester_notified --close--> closed                                      (terminal)
    received | under_review | appealed --withdraw--> withdrawn                (terminal)

Why these rules:

* a decision (``actioned`` or ``rejected``) is always followed by telling the requester, and a
  case cannot be closed before that, so nobody is left without an answer (DSA Art. 16(5));
* an appeal (DSA Art. 20 internal complaint, by the requester or by the uploader whose content
  was removed) reopens review once by default; the decision after the appeal is final, which
  keeps the machine finite;
* withdrawal is possible only before a decision: once content is removed, a withdrawal cannot
  undo the removal, and after a rejection there is nothing left to withdraw but the appeal,
  which ``withdraw`` from ``appealed`` covers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class CaseState(enum.StrEnum):
    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    ACTIONED = "actioned"
    REJECTED = "rejected"
    REQUESTER_NOTIFIED = "requester_notified"
    APPEALED = "appealed"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class CaseEvent(enum.StrEnum):
    START_REVIEW = "start_review"
    ACTION = "action"
    REJECT = "reject"
    NOTIFY = "notify"
    APPEAL = "appeal"
    WITHDRAW = "withdraw"
    CLOSE = "close"


#: (from, event) -> to. Anything not listed is forbidden.
TRANSITIONS: dict[tuple[CaseState, CaseEvent], CaseState] = {
    (CaseState.RECEIVED, CaseEvent.START_REVIEW): CaseState.UNDER_REVIEW,
    (CaseState.APPEALED, CaseEvent.START_REVIEW): CaseState.UNDER_REVIEW,
    (CaseState.UNDER_REVIEW, CaseEvent.ACTION): CaseState.ACTIONED,
    (CaseState.UNDER_REVIEW, CaseEvent.REJECT): CaseState.REJECTED,
    (CaseState.ACTIONED, CaseEvent.NOTIFY): CaseState.REQUESTER_NOTIFIED,
    (CaseState.REJECTED, CaseEvent.NOTIFY): CaseState.REQUESTER_NOTIFIED,
    (CaseState.REQUESTER_NOTIFIED, CaseEvent.APPEAL): CaseState.APPEALED,
    (CaseState.REQUESTER_NOTIFIED, CaseEvent.CLOSE): CaseState.CLOSED,
    (CaseState.RECEIVED, CaseEvent.WITHDRAW): CaseState.WITHDRAWN,
    (CaseState.UNDER_REVIEW, CaseEvent.WITHDRAW): CaseState.WITHDRAWN,
    (CaseState.APPEALED, CaseEvent.WITHDRAW): CaseState.WITHDRAWN,
}

TERMINAL_STATES = frozenset({CaseState.WITHDRAWN, CaseState.CLOSED})
#: States in which the deadline clock runs (no decision yet).
OPEN_STATES = frozenset({CaseState.RECEIVED, CaseState.UNDER_REVIEW, CaseState.APPEALED})
DEFAULT_MAX_APPEALS = 1
MAX_REASON_LENGTH = 2000


class TransitionError(ValueError):
    """An event that is not allowed in the case's current state; the message says why."""


@dataclass(frozen=True)
class CaseStatus:
    """Where a case stands: its state plus what the rules need to remember."""

    state: CaseState = CaseState.RECEIVED
    appeals: int = 0
    rejection_reason: str | None = None
    max_appeals: int = DEFAULT_MAX_APPEALS

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def allowed_events(self) -> list[CaseEvent]:
        """Events :func:`apply` accepts now (``reject`` also needs a reason)."""
        return [
            event
            for (state, event) in TRANSITIONS
            if state is self.state and not (event is CaseEvent.APPEAL and not self.can_appeal)
        ]

    @property
    def can_appeal(self) -> bool:
        return self.state is CaseState.REQUESTER_NOTIFIED and self.appeals < self.max_appeals


def apply(status: CaseStatus, event: CaseEvent, *, reason: str | None = None) -> CaseStatus:
    """The status after ``event``, or :class:`TransitionError`; ``status`` is not changed."""
    target = TRANSITIONS.get((status.state, event))
    if target is None:
        if status.terminal:
            raise TransitionError(f"case is {status.state.value} (final): cannot {event.value}")
        raise TransitionError(f"cannot {event.value} a case that is {status.state.value}")
    if event is CaseEvent.APPEAL and not status.can_appeal:
        raise TransitionError(
            f"no appeal left: the decision after {status.max_appeals} appeal(s) is final"
        )
    if event is CaseEvent.REJECT:
        cleaned = (reason or "").strip()
        if not cleaned:
            raise TransitionError("a rejection needs a reason the requester can read")
        if len(cleaned) > MAX_REASON_LENGTH:
            raise TransitionError(f"rejection reason is longer than {MAX_REASON_LENGTH} characters")
        return replace(status, state=target, rejection_reason=cleaned)
    if reason is not None:
        raise TransitionError(f"{event.value} takes no reason")
    if event is CaseEvent.APPEAL:
        return replace(status, state=target, appeals=status.appeals + 1)
    if event is CaseEvent.START_REVIEW:
        return replace(status, state=target, rejection_reason=None)
    return replace(status, state=target)
