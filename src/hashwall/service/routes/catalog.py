"""The platform catalog: register hosted items (hashes, upload, bulk), read, remove; sweeps.

Registering an item matches it against every bank before the response (the sweep's record
ids are in it); adding a bank entry does the reverse (see :mod:`hashwall.service.sweep`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hashwall.hashing.record import HashRecord
from hashwall.service.action_schemas import (
    CatalogImportOut,
    CatalogItemCreate,
    CatalogItemCreated,
    CatalogItemList,
    CatalogItemOut,
    SweepOut,
)
from hashwall.service.after_commit import CATALOG_TABLES, refresh_statistics, sweep_committed
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.catalog_index import catalog_signals
from hashwall.service.errors import ApiError, printable
from hashwall.service.hash_input import record_from_hashes, record_from_object
from hashwall.service.import_parse import lines
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.routes.entries import _clean, _metadata_form
from hashwall.service.schemas import EntrySignalOut, MatchRecordList, MatchRecordOut
from hashwall.service.state import ServiceState, get_state
from hashwall.service.sweep import SweepResult, new_job
from hashwall.service.uploads import hash_upload
from hashwall.service.urls import url_problem
from hashwall.store import Bank, Change, ChangeKind, MatchRecord
from hashwall.store.catalog_models import (
    CatalogImport,
    CatalogItem,
    CatalogState,
    SweepKind,
)

router = APIRouter(tags=["catalog"])
State = Annotated[ServiceState, Depends(get_state)]
_FLUSH_EVERY = 1000


def item_out(item: CatalogItem) -> CatalogItemOut:
    return CatalogItemOut(
        id=item.id,
        content_id=item.content_id,
        url=item.url,
        state=item.state.value,
        content_type=item.content_type,
        metadata=item.meta,
        import_id=item.import_id,
        signals=[
            EntrySignalOut(
                signal_type=s.signal_type, variant=s.variant, value=s.value, quality=s.quality
            )
            for s in item.signals
            if s.signal_type != "pdq" or s.variant in ("original", "borderless")
        ],
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def sweep_out(result: SweepResult | None, job_id: int) -> SweepOut:
    if result is None:  # committed, swept later in the background (after_commit.py)
        return SweepOut(
            job_id=job_id, status="pending", checked=0, new_matches=0, match_record_ids=[]
        )
    return SweepOut(
        job_id=result.job_id,
        status="done",
        checked=result.checked,
        new_matches=result.new_matches,
        match_record_ids=result.record_ids,
    )


def _new_item(
    record: HashRecord, content_id: str, url: str, metadata: dict[str, Any], import_id: int | None
) -> CatalogItem:
    return CatalogItem(
        content_id=content_id,
        url=url,
        state=CatalogState.ACTIVE,
        content_type=str(record.content_type),
        meta=metadata,
        import_id=import_id,
        signals=catalog_signals(record),
    )


def _register(state: ServiceState, principal: Principal, item: CatalogItem) -> CatalogItemCreated:
    try:
        with state.db.session() as session:
            session.add(item)
            session.flush()
            session.add(Change(kind=ChangeKind.CATALOG, target_id=item.id))
            job = new_job(session, SweepKind.CATALOG, item.id, principal.key_id)
            session.flush()
            out = item_out(item)
    except IntegrityError:
        raise ApiError(
            409, f"content_id {item.content_id!r} is already in the catalog", "content_id"
        ) from None
    state.publish(ChangeKind.CATALOG, out.id)
    result = sweep_committed(state, job.id)
    return CatalogItemCreated(**out.model_dump(), sweep=sweep_out(result, job.id))


@router.post("/v1/catalog/items", status_code=201, response_model=CatalogItemCreated)
def register_item(
    body: CatalogItemCreate,
    state: State,
    principal: Annotated[Principal, require(Permission.CATALOG_WRITE)],
) -> CatalogItemCreated:
    """Register one hosted item by its hashes; it is matched against every bank at once."""
    if body.hashes is not None:
        record = record_from_hashes(body.hashes, "body.hashes")
    else:
        record = record_from_object(body.record, "body.record")
    item = _new_item(record, body.content_id, body.url, body.metadata, None)
    return _register(state, principal, item)


@router.post("/v1/catalog/items/upload", status_code=201, response_model=CatalogItemCreated)
def register_item_by_upload(
    state: State,
    principal: Annotated[Principal, require(Permission.CATALOG_WRITE)],
    file: Annotated[UploadFile, File(description="A photo or video; hashed, then deleted.")],
    content_id: Annotated[str, Form(min_length=1, max_length=500)],
    url: Annotated[str, Form(max_length=2000)] = "",
    metadata: Annotated[str, Form(description="A JSON object.")] = "",
) -> CatalogItemCreated:
    """Hash an uploaded hosted item server-side and register it; the file is not kept."""
    meta = _metadata_form(metadata)
    content_id = _clean(content_id, "content_id", 500)
    url = _clean(url, "url", 2000)
    if (problem := url_problem(url)) is not None:
        raise ApiError(422, problem, "url")
    record = hash_upload(file, state.settings.max_upload_bytes, "file")
    return _register(state, principal, _new_item(record, content_id, url, meta, None))


def _parse_line(number: int, line: str) -> tuple[str, str, dict[str, Any], HashRecord]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ApiError(422, f"file line {number}: not valid JSON ({error.msg})", "file") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"file line {number}: expected a JSON object", "file")
    content_id, url, meta = data.get("content_id"), data.get("url", ""), data.get("metadata", {})
    if not isinstance(content_id, str) or not 1 <= len(content_id) <= 500:
        raise ApiError(
            422, f"file line {number}: content_id must be a 1-500 character string", "file"
        )
    if not isinstance(url, str) or len(url) > 2000 or not isinstance(meta, dict):
        raise ApiError(422, f"file line {number}: url must be a string, metadata an object", "file")
    if (problem := url_problem(url)) is not None:
        raise ApiError(422, f"file line {number}: url {problem}", "file")
    for value in (content_id, url, json.dumps(meta)):
        if any(ord(c) < 32 for c in value) or "\\u0000" in value:
            raise ApiError(422, f"file line {number}: control characters", "file")
    try:
        record = record_from_object(data, "record")
    except ApiError as error:
        raise ApiError(422, f"file line {number}: {error.message}", "file") from None
    return printable(content_id, 500), url, meta, record


def _existing_import(state: ServiceState, key: str) -> CatalogImport | None:
    with state.db.session() as session:
        return session.scalars(
            select(CatalogImport).where(CatalogImport.idempotency_key == key)
        ).first()


def _import_out(job: CatalogImport, created: bool, sweep: SweepOut | None) -> CatalogImportOut:
    return CatalogImportOut(
        id=job.id,
        idempotency_key=job.idempotency_key,
        format=job.format,
        item_count=job.item_count,
        created=created,
        created_at=job.created_at,
        sweep=sweep,
    )


@router.post("/v1/catalog/imports", status_code=201, response_model=CatalogImportOut)
def import_items(
    state: State,
    principal: Annotated[Principal, require(Permission.CATALOG_WRITE)],
    file: Annotated[
        UploadFile, File(description="`hashwall hash` JSON lines, each with a `content_id`.")
    ],
    idempotency_key: Annotated[
        str | None,
        Form(max_length=200, description="Retry-safe key; default: the file's SHA-256."),
    ] = None,
) -> CatalogImportOut:
    """Register many items, all or nothing; retrying the same key (or file) adds nothing."""
    if file.size is not None and file.size > state.settings.max_upload_bytes:
        raise ApiError(
            413, f"the file is larger than {state.settings.max_upload_bytes} bytes", "file"
        )
    if idempotency_key is not None and any(ord(c) < 32 for c in idempotency_key):
        raise ApiError(422, "must not contain control characters", "idempotency_key")
    if idempotency_key:
        key = idempotency_key
    else:
        file.file.seek(0)
        key = f"sha256:{hashlib.sha256(file.file.read()).hexdigest()}"
    found = _existing_import(state, key)
    if found is not None:
        return _import_out(found, False, None)
    try:
        with state.db.session() as session:
            job = CatalogImport(idempotency_key=key, format="jsonl", item_count=0)
            session.add(job)
            session.flush()
            seen: dict[str, int] = {}
            for number, line in lines(file.file):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                content_id, url, meta, record = _parse_line(number, line)
                if content_id in seen:
                    raise ApiError(
                        422,
                        f"file line {number}: content_id {content_id!r} repeats line "
                        f"{seen[content_id]}",
                        "file",
                    )
                seen[content_id] = number
                session.add(_new_item(record, content_id, url, meta, job.id))
                if len(seen) % _FLUSH_EVERY == 0:
                    _flush_or_conflict(session)
            if not seen:
                raise ApiError(422, "the file has no items", "file")
            job.item_count = len(seen)
            session.add(Change(kind=ChangeKind.CATALOG_IMPORT, target_id=job.id))
            sweep = new_job(session, SweepKind.CATALOG_IMPORT, job.id, principal.key_id)
            _flush_or_conflict(session)
    except IntegrityError:
        found = _existing_import(state, key)  # the same key was imported concurrently
        if found is None:
            raise ApiError(
                409, "a content_id of this file is already in the catalog", "file"
            ) from None
        return _import_out(found, False, None)
    state.publish(ChangeKind.CATALOG_IMPORT, job.id)
    refresh_statistics(state.db, CATALOG_TABLES, job.item_count)
    result = sweep_committed(state, sweep.id)
    return _import_out(job, True, sweep_out(result, sweep.id))


def _flush_or_conflict(session: Session) -> None:
    """Flush; a content_id already in the catalog becomes a 409 naming it."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ApiError(409, "a content_id of this file is already in the catalog", "file") from None


@router.get("/v1/catalog/items", response_model=CatalogItemList)
def list_items(
    state: State,
    _: Annotated[Principal, require(Permission.CATALOG_READ)],
    content_id: Annotated[str | None, Query(max_length=500)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CatalogItemList:
    with state.db.session(readonly=True) as session:
        query = (
            select(CatalogItem)
            .options(selectinload(CatalogItem.signals))
            .where(CatalogItem.id > after_id)
            .order_by(CatalogItem.id)
            .limit(limit)
        )
        if content_id is not None:
            query = query.where(CatalogItem.content_id == content_id)
        items = [item_out(i) for i in session.scalars(query)]
    return CatalogItemList(items=items, next_after_id=items[-1].id if len(items) == limit else None)


def _load_item(session: Session, item_id: int) -> CatalogItem:
    return load_or_404(session, CatalogItem, item_id, "catalog item", "item_id")


@router.get("/v1/catalog/items/{item_id}", response_model=CatalogItemOut)
def get_item(
    item_id: Id, state: State, _: Annotated[Principal, require(Permission.CATALOG_READ)]
) -> CatalogItemOut:
    with state.db.session(readonly=True) as session:
        return item_out(_load_item(session, item_id))


@router.delete("/v1/catalog/items/{item_id}", response_model=CatalogItemOut)
def remove_item(
    item_id: Id, state: State, _: Annotated[Principal, require(Permission.CATALOG_WRITE)]
) -> CatalogItemOut:
    """The platform took the item down: its hashes are erased and it is no longer swept."""
    with state.db.session() as session:
        item = _load_item(session, item_id)
        if item.state is not CatalogState.REMOVED:
            item.state = CatalogState.REMOVED
            item.signals.clear()
            session.add(Change(kind=ChangeKind.CATALOG, target_id=item.id))
            session.flush()
        out = item_out(item)
    state.publish(ChangeKind.CATALOG, item_id)
    return out


@router.get("/v1/catalog/items/{item_id}/matches", response_model=MatchRecordList)
def item_matches(
    item_id: Id, state: State, _: Annotated[Principal, require(Permission.CATALOG_READ)]
) -> MatchRecordList:
    """The bank entries this hosted item is a known copy of."""
    with state.db.session(readonly=True) as session:
        _load_item(session, item_id)
        rows = session.scalars(
            select(MatchRecord)
            .where(MatchRecord.catalog_item_id == item_id)
            .order_by(MatchRecord.id)
        ).all()
        records = [MatchRecordOut.model_validate(r, from_attributes=True) for r in rows]
    return MatchRecordList(records=records, next_after_id=None)


@router.post("/v1/banks/{bank_id}/sweep", response_model=SweepOut)
def sweep_bank(
    bank_id: Id,
    state: State,
    principal: Annotated[Principal, require(Permission.BANKS_WRITE)],
) -> SweepOut:
    """Match every active entry of the bank against the catalog again (new records only)."""
    with state.db.session() as session:
        load_or_404(session, Bank, bank_id, "bank")
        job = new_job(session, SweepKind.BANK, bank_id, principal.key_id)
        session.flush()
    return sweep_out(sweep_committed(state, job.id), job.id)
