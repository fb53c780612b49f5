"""Calls to the platform: one signed takedown webhook call per removal task, and escalations.

Both are kept in the database (the task row, the case row), so a restarted worker picks up
whatever is still due. A call is *claimed* with a conditional UPDATE of ``claim_version``
(pushing the next attempt past the request timeout) so that only one worker sends it. The
body is signed exactly like bank webhooks (``X-Hashwall-Signature: sha256=<HMAC>``, the
function from :mod:`hashwall.service.actions.webhooks`), with ``X-Hashwall-Delivery`` the same
on every retry of one call, so the platform can drop duplicates. A 2xx answer makes a task
``sent``, never ``confirmed``: only the platform's confirmation through the API does that.
Every outcome is an audit entry written with the row change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashwall.net.egress import vet
from hashwall.service.actions.claims import claim_due, claimed_row, lease_until
from hashwall.service.actions.webhooks import Attempt, backoff_seconds, post_signed
from hashwall.service.takedown.config import aware, clock_for, deadline_config, escalation_url
from hashwall.service.takedown.journal import audited, record
from hashwall.service.takedown.queries import OPEN_STATE_NAMES
from hashwall.store.takedown_models import RemovalRequestRow, RemovalTask, TaskStatus

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

BATCH = 20
_ERROR_LIMIT = 500
_USER_AGENT = "hashwall-takedown"


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def task_body(task: RemovalTask, case: RemovalRequestRow) -> bytes:
    """What the platform receives for one task (the same bytes on every retry)."""
    return _canonical(
        {
            "event": "takedown.task",
            "task_id": task.id,
            "case_id": case.case_id,
            "jurisdiction": case.jurisdiction,
            "due_at": aware(case.due_at).isoformat(),
            "catalog_item_id": task.catalog_item_id,
            "content_id": task.content_id,
            "url": task.url,
            "signal": task.signal,
            "distance": task.distance,
            "confirm": f"/v1/takedown/tasks/{task.id}/confirm",
        }
    )


def escalation_body(case: RemovalRequestRow, now: datetime) -> bytes:
    return _canonical(
        {
            "event": "takedown.escalation",
            "case_id": case.case_id,
            "state": case.state,
            "jurisdiction": case.jurisdiction,
            "due_at": aware(case.due_at).isoformat(),
            "seconds_left": int((aware(case.due_at) - now).total_seconds()),
        }
    )


def _outcome(
    state: ServiceState, attempts: int, attempt: Attempt, now: datetime
) -> tuple[str, datetime | None]:
    """The next delivery status and retry time after ``attempts`` tries."""
    if attempt.ok:
        return "sent", None
    if attempts >= state.settings.webhook_max_attempts:
        return "failed", None
    return "pending", now + timedelta(seconds=backoff_seconds(state.settings, attempts))


def _attempt_data(attempt: Attempt, attempts: int, retry_at: datetime | None) -> dict[str, Any]:
    return {
        "attempt": attempts,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "retry_at": retry_at.isoformat() if retry_at else None,
    }


def _post_checked(state: ServiceState, url: str, body: bytes, kind: str, row_id: int) -> Attempt:
    """One call, after the egress check bank webhooks pass (the URL is the operator's, but
    its name may resolve anywhere, and a transition address would reach inside)."""
    verdict = vet(url, allow_private=state.settings.webhooks_may_reach_private)
    if verdict.refused is not None:
        return Attempt(None, f"refused: {verdict.refused}"[:_ERROR_LIMIT])
    return post_signed(
        url,
        state.settings.takedown_webhook_secret,
        body,
        delivery_id=f"takedown-{kind}-{row_id}",
        event=f"takedown.{kind}",
        timeout=state.settings.webhook_timeout_seconds,
        user_agent=_USER_AGENT,
        pinned=verdict.addresses,
    )


def _send(
    state: ServiceState,
    url: str,
    claimed: list[tuple[int, int, bytes]],
    kind: str,
    record_one: Callable[[ServiceState, int, int, Attempt, Session], None],
) -> int:
    """POST each claimed call, then record its outcome in its own audited transaction.

    ``kind`` names the event (``takedown.<kind>``) and the delivery id (``takedown-<kind>-<row
    id>``), the same on every retry so the platform can drop duplicates."""
    for row_id, version, body in claimed:
        attempt = _post_checked(state, url, body, kind, row_id)
        audited(state, partial(record_one, state, row_id, version, attempt))
    return len(claimed)


# ---------------------------------------------------------------------- removal tasks


def _claim_tasks(state: ServiceState) -> list[tuple[int, int, bytes]]:
    now = clock_for(state).now()
    lease = lease_until(state.settings, now)
    with state.db.session() as session:
        due = [
            (task.id, task.claim_version, task_body(task, case))
            for task, case in session.execute(
                select(RemovalTask, RemovalRequestRow)
                .join(RemovalRequestRow, RemovalRequestRow.id == RemovalTask.request_id)
                .where(RemovalTask.status == TaskStatus.PENDING, RemovalTask.next_attempt_at <= now)
                .order_by(RemovalTask.next_attempt_at, RemovalTask.id)
                .limit(BATCH)
            ).all()
        ]
    return claim_due(state.db, RemovalTask, due, next_attempt_at=lease)


def _record_task(
    state: ServiceState, task_id: int, version: int, attempt: Attempt, session: Session
) -> None:
    task = claimed_row(session, RemovalTask, task_id, version)
    if task is None or task.status is not TaskStatus.PENDING:
        return  # confirmed meanwhile, or another worker took over
    case = session.get(RemovalRequestRow, task.request_id)
    assert case is not None
    now = clock_for(state).now()
    task.attempts += 1
    task.last_status_code = attempt.status_code
    task.last_error = attempt.error[:_ERROR_LIMIT]
    status, retry_at = _outcome(state, task.attempts, attempt, now)
    task.status = TaskStatus(status)
    task.next_attempt_at = retry_at
    if attempt.ok:
        task.sent_at = now
    action = {"sent": "task.sent", "failed": "task.failed", "pending": "task.delivery_failed"}
    data = {"task_id": task.id, **_attempt_data(attempt, task.attempts, retry_at)}
    record(state, session, actor="system", action=action[status], case_id=case.case_id, data=data)


def send_due_tasks(state: ServiceState) -> int:
    """Send every due task call once; returns how many were attempted."""
    url = state.settings.takedown_webhook_url
    if not url:
        return 0  # no webhook: the platform polls the API and confirms there
    return _send(state, url, _claim_tasks(state), "task", _record_task)


# ---------------------------------------------------------------------- escalations


def _escalate(state: ServiceState, session: Session, case_id: int, now: datetime) -> bool:
    status = "pending" if escalation_url(state.settings) else "no_webhook"
    won = session.execute(
        update(RemovalRequestRow)
        .where(RemovalRequestRow.id == case_id, RemovalRequestRow.escalated_at.is_(None))
        .values(escalated_at=now, escalation_status=status, escalation_next_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return False  # another worker fired it: once per case
    case = session.get(RemovalRequestRow, case_id)
    assert case is not None
    data = {"due_at": aware(case.due_at).isoformat(), "webhook": status}
    record(state, session, actor="system", action="case.escalated", case_id=case.case_id, data=data)
    return True


def fire_escalations(state: ServiceState) -> int:
    """Mark every open case inside its escalation window as escalated (once); how many."""
    now = clock_for(state).now()
    window = deadline_config(state.settings).escalate_before
    with state.db.session() as session:
        due = list(
            session.scalars(
                select(RemovalRequestRow.id).where(
                    RemovalRequestRow.state.in_(OPEN_STATE_NAMES),
                    RemovalRequestRow.decided_at.is_(None),
                    RemovalRequestRow.escalated_at.is_(None),
                    RemovalRequestRow.due_at <= now + window,
                )
            )
        )
    return sum(audited(state, partial(_escalate, state, case_id=c, now=now)) for c in due)


def _claim_escalations(state: ServiceState) -> list[tuple[int, int, bytes]]:
    now = clock_for(state).now()
    lease = lease_until(state.settings, now)
    with state.db.session() as session:
        due = [
            (case.id, case.claim_version, escalation_body(case, now))
            for case in session.scalars(
                select(RemovalRequestRow)
                .where(
                    RemovalRequestRow.escalation_status == "pending",
                    RemovalRequestRow.escalation_next_at <= now,
                )
                .limit(BATCH)
            )
        ]
    return claim_due(state.db, RemovalRequestRow, due, escalation_next_at=lease)


def _record_escalation(
    state: ServiceState, case_id: int, version: int, attempt: Attempt, session: Session
) -> None:
    case = claimed_row(session, RemovalRequestRow, case_id, version)
    if case is None:
        return  # another worker took over
    now = clock_for(state).now()
    case.escalation_attempts += 1
    case.escalation_error = attempt.error[:_ERROR_LIMIT]
    status, retry_at = _outcome(state, case.escalation_attempts, attempt, now)
    case.escalation_status = status
    case.escalation_next_at = retry_at
    action = {
        "sent": "escalation.sent",
        "failed": "escalation.failed",
        "pending": "escalation.delivery_failed",
    }
    data = _attempt_data(attempt, case.escalation_attempts, retry_at)
    record(state, session, actor="system", action=action[status], case_id=case.case_id, data=data)


def send_due_escalations(state: ServiceState) -> int:
    url = escalation_url(state.settings)
    if not url:
        return 0
    return _send(state, url, _claim_escalations(state), "escalation", _record_escalation)
