"""Health (no key), server-side hashing, stored match records, and API key management."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from sqlalchemy import delete, select

from hashwall import __version__
from hashwall.service.auth import Permission, Principal, Role, create_api_key, require
from hashwall.service.errors import ApiError
from hashwall.service.routes.common import Id
from hashwall.service.schemas import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    MatchRecordList,
    MatchRecordOut,
)
from hashwall.service.state import ServiceState, get_state
from hashwall.service.uploads import hash_upload
from hashwall.store import ApiKey, Bank, MatchRecord, ReviewSession

router = APIRouter(prefix="/v1")
State = Annotated[ServiceState, Depends(get_state)]


@router.get("/health", tags=["system"])
def health() -> dict[str, str]:
    """Liveness: the process answers. Needs no API key (and reveals nothing)."""
    return {"status": "ok", "version": __version__}


@router.get("/ready", tags=["system"], responses={503: {"description": "not ready"}})
def ready(state: State) -> dict[str, str]:
    """Readiness for a load balancer: this worker's index is loaded and its database
    answers (checked at most once a second per worker). Needs no API key."""
    if not state.readiness.ready():
        raise ApiError(
            503,
            "this host cannot reach its database; send requests to another host",
            None,
            {"Retry-After": "2"},
            code="database_unavailable",
        )
    return {"status": "ready"}


@router.post("/hash", tags=["hashing"])
def hash_media(
    state: State,
    _: Annotated[Principal, require(Permission.HASH)],
    file: Annotated[UploadFile, File(description="A photo or video; hashed, then deleted.")],
) -> dict[str, Any]:
    """Hash one file server-side; the answer is what ``hashwall hash`` prints for it."""
    return hash_upload(file, state.settings.max_upload_bytes, "file").as_json()


@router.get("/matches", tags=["match"], response_model=MatchRecordList)
def list_match_records(
    state: State,
    _: Annotated[Principal, require(Permission.MATCHES_READ)],
    bank_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MatchRecordList:
    """Stored match records, oldest first (page with ``after_id``)."""
    with state.db.session(readonly=True) as session:
        query = select(MatchRecord).where(MatchRecord.id > after_id)
        if bank_id is not None:
            query = query.where(MatchRecord.bank_id == bank_id)
        rows = session.scalars(query.order_by(MatchRecord.id).limit(limit)).all()
        records = [MatchRecordOut.model_validate(r, from_attributes=True) for r in rows]
    return MatchRecordList(
        records=records, next_after_id=records[-1].id if len(records) == limit else None
    )


@router.post("/keys", tags=["keys"], status_code=201, response_model=KeyCreated)
def create_key(
    body: KeyCreate, state: State, _: Annotated[Principal, require(Permission.KEYS_ADMIN)]
) -> KeyCreated:
    """Create an API key; the key is in this response only."""
    if body.banks:
        with state.db.session() as session:
            known = set(session.scalars(select(Bank.id).where(Bank.id.in_(body.banks))))
        missing = sorted(set(body.banks) - known)
        if missing:
            raise ApiError(422, f"no bank with id {missing[0]}", "banks")
    row, key = create_api_key(
        state.db, state.settings.secret_key, Role(body.role), body.name, body.banks
    )
    return KeyCreated(**KeyOut.model_validate(row, from_attributes=True).model_dump(), key=key)


@router.get("/keys", tags=["keys"], response_model=list[KeyOut])
def list_keys(
    state: State, _: Annotated[Principal, require(Permission.KEYS_ADMIN)]
) -> list[KeyOut]:
    with state.db.session(readonly=True) as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        return [KeyOut.model_validate(r, from_attributes=True) for r in rows]


@router.delete("/keys/{key_id}", tags=["keys"], response_model=KeyOut)
def revoke_key(
    key_id: Id, state: State, _: Annotated[Principal, require(Permission.KEYS_ADMIN)]
) -> KeyOut:
    """Revoke a key; it is refused from the next request on."""
    with state.db.session() as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise ApiError(404, f"no key with id {key_id}", "key_id")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
        # Its reviewer sessions end too (they also check the key on every page).
        session.execute(delete(ReviewSession).where(ReviewSession.key_id == key_id))
        state.key_cache.clear()
        session.flush()
        return KeyOut.model_validate(row, from_attributes=True)
