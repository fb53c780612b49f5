"""Bank entries: add by hashes or by media upload, list, read, withdraw, delete.

A withdrawal or deletion is committed, then applied to this worker's index before the
response is sent, so the entry no longer matches here when the caller gets the answer; other
workers apply it from the change log within their poll interval.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hashwall.hashing.record import HashRecord
from hashwall.service.after_commit import sweep_committed, sweep_status
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.errors import ApiError, printable
from hashwall.service.hash_input import record_from_hashes, record_from_object
from hashwall.service.records import signals_from_record
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.schemas import (
    EntryCreate,
    EntryCreated,
    EntryList,
    EntryOut,
    EntrySignalOut,
)
from hashwall.service.state import ServiceState, get_state
from hashwall.service.sweep import new_job
from hashwall.service.uploads import hash_upload
from hashwall.store import Bank, Change, ChangeKind, Entry, EntryState
from hashwall.store.catalog_models import SweepKind

router = APIRouter(tags=["entries"])
State = Annotated[ServiceState, Depends(get_state)]


def new_entry(
    bank_id: int,
    record: HashRecord,
    *,
    label: str = "",
    source: str = "",
    case_ref: str = "",
    metadata: dict[str, Any] | None = None,
    import_job_id: int | None = None,
) -> Entry:
    return Entry(
        bank_id=bank_id,
        state=EntryState.ACTIVE,
        content_type=str(record.content_type),
        label=label,
        source=source,
        case_ref=case_ref,
        meta=metadata or {},
        import_job_id=import_job_id,
        signals=signals_from_record(record),
    )


def entry_out(entry: Entry) -> EntryOut:
    return EntryOut(
        id=entry.id,
        bank_id=entry.bank_id,
        state=entry.state.value,
        content_type=entry.content_type,
        label=entry.label,
        source=entry.source,
        case_ref=entry.case_ref,
        metadata=entry.meta,
        import_job_id=entry.import_job_id,
        signals=[
            EntrySignalOut(
                signal_type=s.signal_type, variant=s.variant, value=s.value, quality=s.quality
            )
            for s in entry.signals
        ],
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )


def _store_entry(
    state: ServiceState, bank_id: int, make_entry: Callable[[], Entry]
) -> EntryCreated:
    def store(session: Session) -> tuple[EntryOut, int]:
        load_or_404(session, Bank, bank_id, "bank")
        entry = make_entry()  # a fresh object per attempt: a retried one starts clean
        session.add(entry)
        session.flush()
        session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
        sweep = new_job(session, SweepKind.ENTRY, entry.id, None)
        session.flush()
        return entry_out(entry), sweep.id

    out, sweep_id = state.db.write(store)  # waits its turn when others write
    state.publish(ChangeKind.ENTRY, out.id)
    # Known copies in the catalog are linked before we answer, unless that fails now.
    result = sweep_committed(state, sweep_id)
    return EntryCreated(**out.model_dump(), sweep=sweep_status(result))


@router.post("/v1/banks/{bank_id}/entries", status_code=201, response_model=EntryCreated)
def add_entry(
    bank_id: Id,
    body: EntryCreate,
    state: State,
    _: Annotated[Principal, require(Permission.ENTRIES_WRITE)],
) -> EntryCreated:
    """Add one item by its hashes (one value per signal type) or a ``hashwall hash`` record."""
    if body.hashes is not None:
        record = record_from_hashes(body.hashes, "body.hashes")
    else:
        record = record_from_object(body.record, "body.record")
    label = body.label or (printable(record.path, 500) if body.record is not None else "")
    make_entry = partial(
        new_entry,
        bank_id,
        record,
        label=label,
        source=body.source,
        case_ref=body.case_ref,
        metadata=body.metadata,
    )
    return _store_entry(state, bank_id, make_entry)


def _metadata_form(value: str) -> dict[str, Any]:
    try:
        data = json.loads(value) if value else {}
    except json.JSONDecodeError as error:
        raise ApiError(422, f"not valid JSON ({error.msg})", "metadata") from None
    if not isinstance(data, dict):
        raise ApiError(422, "must be a JSON object", "metadata")
    if len(value) > 16 * 1024 or "\\u0000" in value:
        raise ApiError(422, "must be at most 16384 bytes without NUL characters", "metadata")
    return data


def _clean(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise ApiError(422, f"must be at most {limit} characters", field)
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ApiError(422, "must not contain control characters", field)
    return value


@router.post("/v1/banks/{bank_id}/entries/upload", status_code=201, response_model=EntryCreated)
def add_entry_by_upload(
    bank_id: Id,
    state: State,
    _: Annotated[Principal, require(Permission.ENTRIES_WRITE)],
    file: Annotated[UploadFile, File(description="A photo or video; hashed, then deleted.")],
    label: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    case_ref: Annotated[str, Form()] = "",
    metadata: Annotated[str, Form(description="A JSON object.")] = "",
) -> EntryCreated:
    """Hash an uploaded photo or video server-side and add it; the file is not kept."""
    meta = _metadata_form(metadata)
    label = _clean(label, "label", 500)
    source = _clean(source, "source", 500)
    case_ref = _clean(case_ref, "case_ref", 200)
    with state.db.session() as session:
        load_or_404(session, Bank, bank_id, "bank")
    record = hash_upload(file, state.settings.max_upload_bytes, "file")
    make_entry = partial(
        new_entry,
        bank_id,
        record,
        label=label or record.path,  # the uploaded file's (cleaned) name
        source=source,
        case_ref=case_ref,
        metadata=meta,
    )
    return _store_entry(state, bank_id, make_entry)


@router.get("/v1/banks/{bank_id}/entries", response_model=EntryList)
def list_entries(
    bank_id: Id,
    state: State,
    _: Annotated[Principal, require(Permission.ENTRIES_READ)],
    entry_state: Annotated[
        EntryState | None, Query(alias="state", description="Only entries in this state.")
    ] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntryList:
    with state.db.session(readonly=True) as session:
        load_or_404(session, Bank, bank_id, "bank")
        query = (
            select(Entry)
            .options(selectinload(Entry.signals))
            .where(Entry.bank_id == bank_id, Entry.id > after_id)
            .order_by(Entry.id)
            .limit(limit)
        )
        if entry_state is not None:
            query = query.where(Entry.state == entry_state)
        entries = [entry_out(e) for e in session.scalars(query)]
    return EntryList(
        entries=entries, next_after_id=entries[-1].id if len(entries) == limit else None
    )


@router.get("/v1/entries/{entry_id}", response_model=EntryOut)
def get_entry(
    entry_id: Id, state: State, _: Annotated[Principal, require(Permission.ENTRIES_READ)]
) -> EntryOut:
    with state.db.session(readonly=True) as session:
        return entry_out(load_or_404(session, Entry, entry_id, "entry"))


def _set_state(
    state: ServiceState, entry_id: int, target: EntryState, principal: Principal
) -> EntryOut:

    def change(session: Session) -> EntryOut:
        entry = load_or_404(session, Entry, entry_id, "entry")
        principal.check_bank(entry.bank_id, "entry_id")
        if entry.state is EntryState.DELETED and target is not EntryState.DELETED:
            raise ApiError(409, "the entry was deleted", "entry_id")
        if entry.state is not target:
            entry.state = target
            if target is EntryState.DELETED:
                # Deleted means the hashes are gone, not just hidden (StopNCII's semantics).
                entry.signals.clear()
            session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
            session.flush()
        return entry_out(entry)

    out = state.db.write(change)  # waits its turn: never refused because others write
    # Stop matching in this worker before the caller hears back.
    state.publish(ChangeKind.ENTRY, entry_id, removed=target is not EntryState.ACTIVE)
    return out


@router.post("/v1/entries/{entry_id}/withdraw", response_model=EntryOut)
def withdraw_entry(
    entry_id: Id, state: State, principal: Annotated[Principal, require(Permission.ENTRIES_WRITE)]
) -> EntryOut:
    """Withdraw an entry (e.g. the person withdrew their case); it stops matching at once."""
    return _set_state(state, entry_id, EntryState.WITHDRAWN, principal)


@router.delete("/v1/entries/{entry_id}", response_model=EntryOut)
def delete_entry(
    entry_id: Id, state: State, principal: Annotated[Principal, require(Permission.ENTRIES_WRITE)]
) -> EntryOut:
    """Delete an entry: it stops matching at once and its stored hashes are erased."""
    return _set_state(state, entry_id, EntryState.DELETED, principal)
