"""Intake of a removal request: validate, hash, store everything in one transaction, sweep.

The order is what makes it safe:

1. validate the whole request and hash what it identifies - nothing is written if any field
   is bad (:class:`~hashwall.cases.intake.IntakeError` lists each one);
2. one transaction: the case row, the hashes as entries of the takedown bank (so re-uploads
   are blocked by the normal match path), a sweep job per entry, the case's takedown job and
   the ``case.received`` audit entry;
3. after the commit, in the request: the sweep of the catalog and one removal task per copy.

A crash after step 2 leaves a pending takedown job, finished by the next start or by the
periodic loop of any worker (:func:`~hashwall.service.takedown.sweep.run_pending_takedowns`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from hashwall.cases.deadlines import Deadline, request_deadline
from hashwall.cases.intake import (
    GOOD_FAITH_STATEMENT,
    IntakeError,
    RemovalRequest,
    deadline_record,
    incomplete_regimes,
    new_case_id,
    validate_request,
)
from hashwall.service.errors import printable
from hashwall.service.public_entries import hold_for_review, holds_new_entries
from hashwall.service.records import signals_from_record
from hashwall.service.sweep import new_job
from hashwall.service.takedown.bank import takedown_bank
from hashwall.service.takedown.config import clock_for, deadline_config
from hashwall.service.takedown.content import Identified, identify
from hashwall.service.takedown.journal import audited, record
from hashwall.service.takedown.sweep import run_takedown_job
from hashwall.service.takedown.views import TakedownReceipt
from hashwall.store import Change, ChangeKind, Entry, EntryState
from hashwall.store.catalog_models import SweepKind
from hashwall.store.takedown_models import RemovalRequestRow, TakedownJob

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState


def _entries(
    session: Session, bank_id: int, case_id: str, identified: list[Identified]
) -> tuple[list[int], list[int]]:
    """Add the hashes to the takedown bank, each with its pending sweep job."""
    entry_ids: list[int] = []
    sweep_ids: list[int] = []
    held = holds_new_entries(session, bank_id)
    for item in identified:
        entry = Entry(
            bank_id=bank_id,
            state=EntryState.ACTIVE,
            content_type=str(item.record.content_type),
            label=item.label,
            source=f"takedown:{item.source}",
            case_ref=case_id,
            meta={},
            signals=signals_from_record(item.record),
        )
        session.add(entry)
        session.flush()
        if held:
            hold_for_review(session, [entry])
        session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
        sweep = new_job(session, SweepKind.ENTRY, entry.id, None)
        session.flush()
        entry_ids.append(entry.id)
        sweep_ids.append(sweep.id)
    return entry_ids, sweep_ids


def validate(raw: Mapping[str, Any], now: datetime, has_upload: bool) -> RemovalRequest:
    """The cases package's validation, where an uploaded copy also identifies the content."""
    try:
        return validate_request(raw, now)
    except IntakeError as error:
        if not has_upload:
            raise
        remaining = [e for e in error.errors if e.field != "content"]
        if remaining:
            raise IntakeError(remaining) from None
        # Only "no content named" failed, and the cross-field checks run after the model
        # validated: the model itself is valid.
        return RemovalRequest.model_validate(dict(raw))


def _received_data(
    request: RemovalRequest, deadline: Deadline, entry_ids: list[int], upload_name: str | None
) -> dict[str, Any]:
    return {
        "request": request.model_dump(mode="json"),
        "good_faith_statement": GOOD_FAITH_STATEMENT,
        **deadline_record(deadline),
        "state": "received",
        "bank_entry_ids": entry_ids,
        "upload_name": upload_name,
    }


def _store(
    state: ServiceState,
    session: Session,
    *,
    bank_id: int,
    case_id: str,
    request: RemovalRequest,
    deadline: Deadline,
    identified: list[Identified],
    upload_name: str | None,
    actor: str,
) -> tuple[int, list[int]]:
    row = RemovalRequestRow(
        case_id=case_id,
        state="received",
        jurisdiction=request.jurisdiction.value,
        received_at=deadline.received_at,
        due_at=deadline.due_at,
        statutory=deadline.statutory,
        requester_name=request.requester_name,
        contact_email=request.contact_email,
        request=request.model_dump(mode="json"),
        upload_name=upload_name,
        appeals=0,
    )
    session.add(row)
    session.flush()
    entry_ids, sweep_ids = _entries(session, bank_id, case_id, identified)
    job = TakedownJob(request_id=row.id, entry_ids=entry_ids, sweep_job_ids=sweep_ids)
    session.add(job)
    session.flush()
    data = _received_data(request, deadline, entry_ids, upload_name)
    record(state, session, actor=actor, action="case.received", case_id=case_id, data=data)
    return job.id, entry_ids


def submit_request(
    state: ServiceState,
    raw: Mapping[str, Any],
    *,
    upload: bytes | None = None,
    upload_name: str | None = None,
    actor: str = "requester",
) -> TakedownReceipt:
    """Validate and store a removal request, sweep the catalog, create its removal tasks.

    Raises :class:`~hashwall.cases.intake.IntakeError` (one message per bad field) before
    anything is stored."""
    receipt, job_id = receive_request(
        state, raw, upload=upload, upload_name=upload_name, actor=actor
    )
    tasks = run_takedown_job(state, job_id)
    return replace(receipt, tasks_created=tasks)


def receive_request(
    state: ServiceState,
    raw: Mapping[str, Any],
    *,
    upload: bytes | None = None,
    upload_name: str | None = None,
    actor: str = "requester",
) -> tuple[TakedownReceipt, int]:
    """Steps 1 and 2 only: the committed case and its pending takedown job's id.

    :func:`submit_request` runs the sweep right after; this is also exactly the state a crash
    between intake and sweep leaves behind."""
    now: datetime = clock_for(state).now()
    request = validate(raw, now, upload is not None)
    identified = identify(state, request, upload, upload_name)
    deadline = request_deadline(
        now, deadline_config(state.settings), incomplete_for=incomplete_regimes(request)
    )
    case_id = new_case_id(now)
    name = printable(upload_name, 500) if upload is not None and upload_name else None
    bank_id = takedown_bank(state)  # created before the case transaction, never inside it
    job_id, entry_ids = audited(
        state,
        lambda session: _store(
            state,
            session,
            bank_id=bank_id,
            case_id=case_id,
            request=request,
            deadline=deadline,
            identified=identified,
            upload_name=name,
            actor=actor,
        ),
    )
    for entry_id in entry_ids:  # block re-uploads in this worker before answering
        state.publish(ChangeKind.ENTRY, entry_id)
    receipt = TakedownReceipt(
        case_id,
        now,
        deadline.due_at,
        deadline.statutory,
        request.jurisdiction.value,
        0,
        legal_due_at=deadline.legal_due_at,
        deadline_basis=deadline.basis,
        under_18=request.under_18,
    )
    return receipt, job_id
