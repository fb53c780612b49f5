"""The catalog sweep of a case: every copy of the identified content becomes a removal task.

The matching is the retroactive sweep's (:mod:`hashwall.service.sweep`), so a copy is found
exactly when the match API would report it against the takedown bank: same PDQ distance and
quality thresholds, rotations and flips, bars, digests and vPDQ percentages. This module only
turns the match records of the case's entries into tasks, one per catalog item (the closest
match wins), each with a ``task.created`` audit entry in the same transaction, and marks the
case's takedown job done there too. Re-running a job (two workers, a restart) creates nothing
twice: finished sweep jobs are skipped, and tasks are unique per (case, catalog item).

Copies that reach the catalog *after* the case (a re-upload registered later, a bulk catalog
import) are matched by the catalog sweep against the takedown bank like any item;
:func:`task_late_copies`, run by the takedown thread each poll, turns those match records into
tasks of the case that named the content, as long as the case is still live.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.service.sweep import run_job
from hashwall.service.takedown.config import clock_for
from hashwall.service.takedown.journal import audited, record
from hashwall.store import Entry, MatchRecord
from hashwall.store.catalog_models import CatalogItem, CatalogState
from hashwall.store.takedown_models import (
    JobStatus,
    RemovalRequestRow,
    RemovalTask,
    TakedownJob,
)

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service.takedown")

#: States in which found copies are still to be removed (tasks are sent once actioned).
_RELEASED_STATES = frozenset({"actioned", "requester_notified", "closed"})
#: States in which a copy found later still becomes a task of the case. Not closed ones (the
#: takedown bank keeps blocking those uploads through the match API and the bank's own
#: action), nor rejected or withdrawn ones (their entries no longer match).
_LIVE_STATES = ("received", "under_review", "appealed", "actioned", "requester_notified")


def _closest_matches(session: Session, entry_ids: list[int]) -> dict[int, MatchRecord]:
    """The closest match record per active catalog item for these entries."""
    if not entry_ids:
        return {}
    rows = session.scalars(
        select(MatchRecord)
        .join(CatalogItem, CatalogItem.id == MatchRecord.catalog_item_id)
        .where(MatchRecord.entry_id.in_(entry_ids), CatalogItem.state == CatalogState.ACTIVE)
        .order_by(MatchRecord.distance, MatchRecord.id)
    )
    closest: dict[int, MatchRecord] = {}
    for match in rows:
        assert match.catalog_item_id is not None
        closest.setdefault(match.catalog_item_id, match)
    return closest


def _task_data(task: RemovalTask) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "catalog_item_id": task.catalog_item_id,
        "content_id": task.content_id,
        "url": task.url,
        "signal": task.signal,
        "distance": task.distance,
        "query_variant": task.query_variant,
        "match_record_id": task.match_record_id,
    }


def create_tasks(
    state: ServiceState, session: Session, case: RemovalRequestRow, entry_ids: list[int]
) -> int:
    """One task per catalog copy not yet tasked for this case; returns how many were new."""
    known = set(
        session.scalars(
            select(RemovalTask.catalog_item_id).where(RemovalTask.request_id == case.id)
        )
    )
    created = 0
    now = clock_for(state).now()
    for item_id, match in sorted(_closest_matches(session, entry_ids).items()):
        if item_id in known:
            continue
        item = session.get(CatalogItem, item_id)
        assert item is not None
        task = RemovalTask(
            request_id=case.id,
            catalog_item_id=item_id,
            content_id=item.content_id,
            url=item.url,
            signal=match.signal_type,
            distance=match.distance,
            query_variant=match.query_variant or "",
            match_record_id=match.id,
            # Sent only once the case is actioned: a reviewer decides before anything goes.
            next_attempt_at=now if case.state in _RELEASED_STATES else None,
            created_at=now,
        )
        session.add(task)
        session.flush()
        record(
            state,
            session,
            actor="system",
            action="task.created",
            case_id=case.case_id,
            data=_task_data(task),
        )
        created += 1
    return created


def _finish(state: ServiceState, session: Session, job_id: int) -> int:
    job = session.get(TakedownJob, job_id)
    if job is None:
        raise LookupError(f"no takedown job {job_id}")
    if job.status is JobStatus.DONE:
        return job.tasks_created
    case = session.get(RemovalRequestRow, job.request_id)
    assert case is not None
    created = create_tasks(state, session, case, list(job.entry_ids))
    job.status = JobStatus.DONE
    job.tasks_created = created
    job.finished_at = clock_for(state).now()
    record(
        state,
        session,
        actor="system",
        action="case.swept",
        case_id=case.case_id,
        data={"tasks_created": created, "bank_entry_ids": list(job.entry_ids)},
    )
    return created


def run_takedown_job(state: ServiceState, job_id: int) -> int:
    """Sweep the catalog for a case's entries and create its tasks; returns the task count."""
    with state.db.session() as session:
        job = session.get(TakedownJob, job_id)
        if job is None:
            raise LookupError(f"no takedown job {job_id}")
        if job.status is JobStatus.DONE:
            return job.tasks_created
        sweep_ids = list(job.sweep_job_ids)
    for sweep_id in sweep_ids:
        run_job(state, sweep_id)  # idempotent: a finished sweep job is not redone
    created = audited(state, lambda session: _finish(state, session, job_id))
    if created:
        wake_sender(state)
    return created


def wake_sender(state: ServiceState) -> None:
    """Ask this worker's takedown sender to look for due calls now."""
    if state.takedown_waker is not None:
        state.takedown_waker()


def run_pending_takedowns(state: ServiceState) -> int:
    """Finish every takedown job left pending (crash, restart); returns how many ran."""
    with state.db.session() as session:
        pending = list(
            session.scalars(
                select(TakedownJob.id)
                .where(TakedownJob.status == JobStatus.PENDING)
                .order_by(TakedownJob.id)
            )
        )
    for job_id in pending:
        created = run_takedown_job(state, job_id)
        log.info("finished pending takedown job %d: %d removal tasks", job_id, created)
    return len(pending)


def _cases_with_untasked_copies(session: Session) -> list[int]:
    """Ids of live cases whose takedown entries match a catalog item that has no task yet."""
    tasked = (
        select(RemovalTask.id)
        .where(
            RemovalTask.request_id == RemovalRequestRow.id,
            RemovalTask.catalog_item_id == MatchRecord.catalog_item_id,
        )
        .exists()
    )
    query = (
        select(RemovalRequestRow.id)
        .join(Entry, Entry.case_ref == RemovalRequestRow.case_id)
        .join(MatchRecord, MatchRecord.entry_id == Entry.id)
        .join(CatalogItem, CatalogItem.id == MatchRecord.catalog_item_id)
        .where(
            RemovalRequestRow.state.in_(_LIVE_STATES),
            Entry.source.like("takedown:%"),
            CatalogItem.state == CatalogState.ACTIVE,
            ~tasked,
        )
        .distinct()
    )
    return sorted(int(case_id) for case_id in session.scalars(query))


def _task_case_copies(state: ServiceState, session: Session, *, case_row_id: int) -> int:
    case = session.get(RemovalRequestRow, case_row_id)
    assert case is not None
    entry_ids = list(
        session.scalars(
            select(Entry.id).where(Entry.case_ref == case.case_id, Entry.source.like("takedown:%"))
        )
    )
    return create_tasks(state, session, case, entry_ids)


def task_late_copies(state: ServiceState) -> int:
    """Create tasks for catalog copies matched after their case's own sweep; returns how many."""
    with state.db.session() as session:
        case_ids = _cases_with_untasked_copies(session)
    created = 0
    for case_row_id in case_ids:
        created += audited(state, partial(_task_case_copies, state, case_row_id=case_row_id))
    if created:
        log.info("removal tasks for %d copies registered after their case", created)
        wake_sender(state)
    return created
