"""Reading cases: the reviewer queue, one case with its tasks and timeline, deadline metrics.

Deadline states are computed on every read from the stored due time and "now", never stored,
so the queue, the metrics and the escalation loop can never disagree with the clock. Reading
one case is itself audited (``case.viewed``): access to a case is part of its record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashwall.cases.audit_db import AuditLogRow
from hashwall.cases.deadlines import Deadline, DeadlineConfig, Jurisdiction, deadline_state
from hashwall.cases.states import OPEN_STATES, CaseState, CaseStatus
from hashwall.service.takedown.config import aware, clock_for, deadline_config
from hashwall.service.takedown.errors import TakedownNotFound
from hashwall.service.takedown.journal import audited, record
from hashwall.service.takedown.views import RequestDetail, RequestSummary, TaskView, TimelineEntry
from hashwall.store.takedown_models import RemovalRequestRow, RemovalTask, TaskStatus

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

_OPEN = frozenset(state.value for state in OPEN_STATES)
OPEN_STATE_NAMES = sorted(_OPEN)


def case_deadline(row: RemovalRequestRow, config: DeadlineConfig) -> Deadline:
    """The case's deadline: the due time fixed at intake, today's warning windows."""
    due = aware(row.due_at)
    return Deadline(
        jurisdiction=Jurisdiction(row.jurisdiction),
        received_at=aware(row.received_at),
        due_at=due,
        escalate_at=due - config.escalate_before,
        soon_due_at=due - config.soon_due_within,
        statutory=row.statutory,
    )


def _decided_at(row: RemovalRequestRow) -> datetime | None:
    # A case reopened by an appeal keeps its first decision time: the removal deadline
    # concerns that first decision; the appeal is judged without a statutory clock.
    return aware(row.decided_at) if row.decided_at is not None else None


def case_deadline_state(row: RemovalRequestRow, config: DeadlineConfig, now: datetime) -> str:
    decided = _decided_at(row)
    if decided is None and row.state not in _OPEN:  # pragma: no cover - decided_at is set
        decided = aware(row.updated_at)
    return deadline_state(case_deadline(row, config), now, decided).value


def _task_counts(session: Session, ids: list[int]) -> dict[int, Counter[str]]:
    counts: dict[int, Counter[str]] = {i: Counter() for i in ids}
    if not ids:
        return counts
    for request_id, status, count in session.execute(
        select(RemovalTask.request_id, RemovalTask.status, func.count())
        .where(RemovalTask.request_id.in_(ids))
        .group_by(RemovalTask.request_id, RemovalTask.status)
    ):
        counts[request_id][str(status)] = int(count)
    return counts


def _summary_fields(
    row: RemovalRequestRow, counts: Counter[str], config: DeadlineConfig, now: datetime
) -> dict[str, object]:
    return {
        "case_id": row.case_id,
        "state": row.state,
        "jurisdiction": row.jurisdiction,
        "requester_name": row.requester_name,
        "received_at": aware(row.received_at),
        "due_at": aware(row.due_at),
        "deadline_state": case_deadline_state(row, config, now),
        "time_left": aware(row.due_at) - now,
        "tasks_total": sum(counts.values()),
        "tasks_confirmed": counts[TaskStatus.CONFIRMED.value],
        "statutory_deadline": row.statutory,
        "escalated_at": aware(row.escalated_at) if row.escalated_at else None,
    }


def check_states(states: Collection[str]) -> list[str]:
    """The given state names, or ValueError naming the unknown one."""
    known = {state.value for state in CaseState}
    for name in states:
        if name not in known:
            raise ValueError(f"unknown state {name!r}: use " + ", ".join(sorted(known)))
    return list(states)


def list_requests(
    state: ServiceState, *, states: Collection[str] | None = None, limit: int = 200
) -> list[RequestSummary]:
    """The queue, most urgent (earliest due) first."""
    config = deadline_config(state.settings)
    now = clock_for(state).now()
    query = select(RemovalRequestRow).order_by(RemovalRequestRow.due_at, RemovalRequestRow.id)
    if states is not None:
        query = query.where(RemovalRequestRow.state.in_(check_states(states)))
    with state.db.session() as session:
        rows = list(session.scalars(query.limit(max(1, min(limit, 10_000)))))
        counts = _task_counts(session, [row.id for row in rows])
    return [RequestSummary(**_summary_fields(r, counts[r.id], config, now)) for r in rows]  # type: ignore[arg-type]


def load_case(session: Session, case_id: str) -> RemovalRequestRow:
    row = session.scalars(
        select(RemovalRequestRow).where(RemovalRequestRow.case_id == case_id)
    ).first()
    if row is None:
        raise TakedownNotFound(case_id)
    return row


def task_view(task: RemovalTask) -> TaskView:
    return TaskView(
        id=task.id,
        content_id=task.content_id,
        url=task.url,
        signal=task.signal,
        distance=task.distance,
        status=str(task.status),
        attempts=task.attempts,
        last_error=task.last_error,
        confirmed_at=aware(task.confirmed_at) if task.confirmed_at else None,
        query_variant=task.query_variant,
        catalog_item_id=task.catalog_item_id,
        sent_at=aware(task.sent_at) if task.sent_at else None,
        confirmed_by=task.confirmed_by,
    )


def _timeline(session: Session, case_id: str) -> list[TimelineEntry]:
    entries = []
    for row in session.scalars(
        select(AuditLogRow).where(AuditLogRow.case_id == case_id).order_by(AuditLogRow.seq)
    ):
        item = row.to_item()
        details = item.data if not isinstance(item, Exception) else {"unreadable": str(item)}
        at = datetime.fromisoformat(row.at.replace("Z", "+00:00"))
        entries.append(TimelineEntry(at, row.actor, row.action, details, row.seq))
    return entries


def detail(state: ServiceState, session: Session, row: RemovalRequestRow) -> RequestDetail:
    """Everything about one case, read inside the caller's transaction."""
    config = deadline_config(state.settings)
    now = clock_for(state).now()
    tasks = list(
        session.scalars(
            select(RemovalTask).where(RemovalTask.request_id == row.id).order_by(RemovalTask.id)
        )
    )
    counts: Counter[str] = Counter(str(task.status) for task in tasks)
    status = CaseStatus(CaseState(row.state), row.appeals, row.rejection_reason)
    return RequestDetail(
        **_summary_fields(row, counts, config, now),  # type: ignore[arg-type]
        request=dict(row.request),
        tasks=[task_view(task) for task in tasks],
        timeline=_timeline(session, row.case_id),
        allowed_events=[event.value for event in status.allowed_events()],
        rejection_reason=row.rejection_reason,
        decided_at=_decided_at(row),
        appeals=row.appeals,
        upload_name=row.upload_name,
    )


def get_request(state: ServiceState, case_id: str, *, actor: str) -> RequestDetail:
    """One case with tasks and timeline; the access is recorded as ``case.viewed``."""

    def work(session: Session) -> RequestDetail:
        row = load_case(session, case_id)
        record(state, session, actor=actor, action="case.viewed", case_id=case_id, data={})
        return detail(state, session, row)

    return audited(state, work)


def deadline_metrics(state: ServiceState) -> dict[str, int]:
    """Counts for dashboards and alerts: open cases by deadline state, decisions, tasks."""
    config = deadline_config(state.settings)
    now = clock_for(state).now()
    metrics: Counter[str] = Counter()
    with state.db.session() as session:
        for row in session.scalars(select(RemovalRequestRow)):
            metrics["total"] += 1
            metrics[f"state_{row.state}"] += 1
            if row.state in _OPEN:
                metrics["open"] += 1
                metrics["escalated"] += row.escalated_at is not None
            metrics[case_deadline_state(row, config, now)] += 1
        for status, count in session.execute(
            select(RemovalTask.status, func.count()).group_by(RemovalTask.status)
        ):
            metrics[f"tasks_{status}"] += int(count)
    names = ["total", "open", "due", "soon_due", "overdue", "met", "missed", "escalated"]
    names += [f"state_{s.value}" for s in CaseState]
    names += [f"tasks_{s.value}" for s in TaskStatus]
    return {name: int(metrics[name]) for name in names}


def time_left_seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())
