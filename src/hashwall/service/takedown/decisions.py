"""Reviewer decisions on a case and the platform's confirmation of each removal.

Decisions go through :func:`hashwall.cases.states.apply`, so the service and the library share
one set of rules, and each is written with its audit entry in one transaction. What a
decision does besides changing the state:

* ``action`` releases the case's removal tasks to the takedown webhook (nothing is sent to
  the platform before a reviewer decided) and keeps the hashes blocking re-uploads;
* ``reject`` and ``withdraw`` withdraw the case's takedown-bank entries, so content judged
  lawful (or a request withdrawn) no longer blocks uploads; an ``action`` after an appeal
  re-activates them;
* ``notify`` after an ``action`` needs every removal task confirmed by the platform: the
  requester is told "removed" only when it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashwall.cases.states import CaseEvent, CaseState, CaseStatus, TransitionError, apply
from hashwall.service.takedown.config import clock_for
from hashwall.service.takedown.errors import TaskNotFound
from hashwall.service.takedown.journal import audited, record
from hashwall.service.takedown.queries import detail, load_case, task_view
from hashwall.service.takedown.sweep import wake_sender
from hashwall.service.takedown.views import RequestDetail, TaskView
from hashwall.store import Change, ChangeKind, Entry, EntryState
from hashwall.store.takedown_models import RemovalRequestRow, RemovalTask, TaskStatus

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

_DECISIONS = frozenset({CaseEvent.ACTION, CaseEvent.REJECT, CaseEvent.WITHDRAW})
_RELEASED = frozenset({"actioned", "requester_notified", "closed"})


def parse_event(event: str) -> CaseEvent:
    try:
        return CaseEvent(event)
    except ValueError:
        known = ", ".join(e.value for e in CaseEvent)
        raise TransitionError(f"unknown event {event!r}: use one of {known}") from None


def _set_entries(session: Session, case_id: str, target: EntryState) -> list[int]:
    """Switch the case's takedown entries between active and withdrawn; returns changed ids."""
    changed = []
    for entry in session.scalars(
        select(Entry).where(
            Entry.case_ref == case_id,
            Entry.source.like("takedown:%"),
            Entry.state.in_([EntryState.ACTIVE, EntryState.WITHDRAWN]),
        )
    ):
        if entry.state is not target:
            entry.state = target
            session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
            changed.append(entry.id)
    session.flush()
    return changed


def _unconfirmed(session: Session, row: RemovalRequestRow) -> int:
    return len(
        session.scalars(
            select(RemovalTask.id).where(
                RemovalTask.request_id == row.id, RemovalTask.status != TaskStatus.CONFIRMED
            )
        ).all()
    )


def _side_effects(
    state: ServiceState, session: Session, row: RemovalRequestRow, event: CaseEvent
) -> list[int]:
    if event is CaseEvent.ACTION:
        session.execute(
            update(RemovalTask)
            .where(
                RemovalTask.request_id == row.id,
                RemovalTask.status == TaskStatus.PENDING,
                RemovalTask.next_attempt_at.is_(None),
            )
            .values(next_attempt_at=clock_for(state).now())
        )
        return _set_entries(session, row.case_id, EntryState.ACTIVE)
    if event in (CaseEvent.REJECT, CaseEvent.WITHDRAW):
        return _set_entries(session, row.case_id, EntryState.WITHDRAWN)
    return []


def _apply(
    state: ServiceState,
    session: Session,
    case_id: str,
    event: CaseEvent,
    actor: str,
    reason: str | None,
    legal_ground: str | None = None,
) -> tuple[RequestDetail, list[int]]:
    row = load_case(session, case_id)
    before = CaseStatus(CaseState(row.state), row.appeals, row.rejection_reason)
    if event is CaseEvent.NOTIFY and before.state is CaseState.ACTIONED:
        waiting = _unconfirmed(session, row)
        if waiting:
            raise TransitionError(
                f"{waiting} removal task(s) not confirmed by the platform yet: the requester "
                "can be told the content is removed only once it is"
            )
    after = apply(before, event, reason=reason)
    row.state = after.state.value
    row.appeals = after.appeals
    row.rejection_reason = after.rejection_reason
    if event in _DECISIONS and row.decided_at is None:
        row.decided_at = clock_for(state).now()
    changed = _side_effects(state, session, row, event)
    data: dict[str, str | None] = {
        "from": before.state.value,
        "to": after.state.value,
        "reason": reason,
    }
    if legal_ground is not None:
        data["legal_ground"] = legal_ground
    record(state, session, actor=actor, action=f"case.{event.value}", case_id=case_id, data=data)
    return detail(state, session, row), changed


def decide(
    state: ServiceState,
    case_id: str,
    event: str,
    *,
    actor: str,
    reason: str | None = None,
    legal_ground: str | None = None,
) -> RequestDetail:
    """Apply a reviewer's (or requester's) event; TakedownNotFound or TransitionError.

    ``legal_ground`` is the national provision an ``action`` relies on (for EU cases the
    statement of reasons must cite it: the DSA and Directive (EU) 2024/1385 make nothing
    illegal by themselves)."""
    parsed = parse_event(event)
    cleaned = _clean(reason)
    ground = _clean(legal_ground)
    if ground is not None and parsed is not CaseEvent.ACTION:
        raise TransitionError("legal_ground belongs to an action decision only")
    result, changed = audited(
        state, lambda session: _apply(state, session, case_id, parsed, actor, cleaned, ground)
    )
    for entry_id in changed:  # (un)block in this worker before answering
        state.publish(ChangeKind.ENTRY, entry_id)
    if parsed is CaseEvent.ACTION:
        wake_sender(state)
    return result


def _clean(text: str | None) -> str | None:
    return text.strip() if text is not None and text.strip() else None


def _confirm(
    state: ServiceState, session: Session, task_id: int, actor: str, note: str | None
) -> TaskView:
    task = session.get(RemovalTask, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    if task.status is TaskStatus.CONFIRMED:
        return task_view(task)  # idempotent: a repeated confirmation changes nothing
    case = session.get(RemovalRequestRow, task.request_id)
    assert case is not None
    if case.state not in _RELEASED:
        raise TransitionError(
            f"case {case.case_id} is {case.state}: removal is requested only once it is actioned"
        )
    now = clock_for(state).now()
    task.status = TaskStatus.CONFIRMED
    task.confirmed_at = now
    task.confirmed_by = actor[:200]
    data = {"task_id": task.id, "content_id": task.content_id, "note": note}
    record(state, session, actor=actor, action="task.confirmed", case_id=case.case_id, data=data)
    session.flush()
    return task_view(task)


def confirm_task(
    state: ServiceState, task_id: int, *, actor: str, note: str | None = None
) -> TaskView:
    """The platform confirms it removed the copy of one task: the task is done."""
    return audited(state, lambda session: _confirm(state, session, task_id, actor, note))
