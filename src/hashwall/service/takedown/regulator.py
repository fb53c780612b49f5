"""A regulator's removal notice about a case: the one event that starts Australia's 24 hours.

Under the Online Safety Act 2021 (Cth) ss 77-79 the 24 hours run from an *eSafety removal
notice* given to the platform, "or such longer period as the Commissioner allows" - not from a
person's own request, which only has the platform's internal target. A reviewer records the
notice here; the case's deadline becomes the notice's when that is sooner, and is then marked
as a legal deadline. The notice, its time and reference go into the audit chain in the same
transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from hashwall.cases.deadlines import (
    ESAFETY_NOTICE_PERIOD,
    Deadline,
    regulator_notice_deadline,
)
from hashwall.cases.states import OPEN_STATES, TransitionError
from hashwall.service.takedown.config import aware, clock_for, deadline_config
from hashwall.service.takedown.journal import audited, record
from hashwall.service.takedown.queries import detail, load_case
from hashwall.service.takedown.views import RequestDetail

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

_OPEN = frozenset(state.value for state in OPEN_STATES)
#: Notices dated further ahead than this are refused as a typing error (clock skew allowed).
_FUTURE_SKEW = timedelta(minutes=5)


def record_esafety_notice(
    state: ServiceState,
    case_id: str,
    *,
    given_at: datetime,
    actor: str,
    period: timedelta = ESAFETY_NOTICE_PERIOD,
    reference: str | None = None,
) -> RequestDetail:
    """Record that eSafety gave a removal notice for the case's content at ``given_at``.

    ValueError for a bad time or period, TransitionError for a case already decided (its
    content was removed, or a notice after a rejection calls for an appeal to reopen it)."""
    deadline = regulator_notice_deadline(given_at, deadline_config(state.settings), period)
    if deadline.received_at > clock_for(state).now() + _FUTURE_SKEW:
        raise ValueError("given_at lies in the future")
    return audited(
        state, lambda session: _apply(state, session, case_id, deadline, actor, reference)
    )


def _apply(
    state: ServiceState,
    session: Session,
    case_id: str,
    deadline: Deadline,
    actor: str,
    reference: str | None,
) -> RequestDetail:
    row = load_case(session, case_id)
    if row.state not in _OPEN:
        raise TransitionError(
            f"case {case_id} is {row.state}: record the notice on an open case (an appeal "
            "reopens a rejected one)"
        )
    sooner = deadline.due_at <= aware(row.due_at)
    if sooner:
        row.due_at = deadline.due_at
        row.statutory = True
    data = {
        "regulator": "esafety",
        "given_at": deadline.received_at.isoformat(),
        "legal_due_at": deadline.due_at.isoformat(),
        "basis": deadline.basis,
        "reference": reference,
        "case_due_at": aware(row.due_at).isoformat(),
    }
    record(state, session, actor=actor, action="case.regulator_notice", case_id=case_id, data=data)
    session.flush()
    return detail(state, session, row)
