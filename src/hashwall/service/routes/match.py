"""Match API: by hashes (single or batch) and by media upload; matches are recorded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import ValidationError

from hashwall.hashing.record import HashRecord
from hashwall.service.actions.dispatch import REVIEW, actions_of, on_new_records
from hashwall.service.actions.queries import query_key, signals_json
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.bank_match import Hit, MatchOutcome, Thresholds, match_record
from hashwall.service.errors import ApiError, printable
from hashwall.service.hash_input import record_from_hashes, record_from_object, record_from_value
from hashwall.service.schemas import (
    BankMatches,
    MatchHashesRequest,
    MatchOut,
    MatchQuery,
    MatchResponse,
    MatchThresholds,
    QueryResult,
)
from hashwall.service.state import ServiceState, get_state
from hashwall.service.uploads import hash_upload
from hashwall.signals import pdq, vpdq
from hashwall.store import ChangeKind, MatchRecord

router = APIRouter(prefix="/v1/match", tags=["match"])
State = Annotated[ServiceState, Depends(get_state)]
MAX_UPLOADS = 16


def _bank_action(state: ServiceState, bank_id: int) -> str | None:
    bank = state.index.banks.get(bank_id)
    return bank.action if bank is not None else None


def _thresholds(body: MatchThresholds) -> Thresholds:
    return Thresholds(
        max_distance=pdq.DISTANCE_THRESHOLD if body.max_distance is None else body.max_distance,
        min_quality=pdq.QUALITY_THRESHOLD if body.min_quality is None else body.min_quality,
        min_query_match_percent=vpdq.QUERY_MATCH_PERCENT
        if body.min_query_match_percent is None
        else body.min_query_match_percent,
    )


def _bank_filter(state: ServiceState, names: list[str] | None) -> set[int] | None:
    if names is None:
        return None
    by_name = {bank.name: bank.id for bank in list(state.index.banks.values())}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ApiError(422, f"unknown bank(s): {', '.join(map(repr, unknown))}", "banks")
    return {by_name[name] for name in names}


def _query_record(query: MatchQuery, field: str) -> HashRecord:
    if query.signal_type is not None and query.signal_value is not None:
        return record_from_value(query.signal_type, query.signal_value, f"{field}.signal_value")
    if query.hashes is not None:
        return record_from_hashes(query.hashes, f"{field}.hashes")
    return record_from_object(query.record, f"{field}.record")


def _match_out(hit: Hit) -> MatchOut:
    return MatchOut(
        entry_id=hit.entry_id,
        entry_state="active",
        signal=hit.signal,
        distance=hit.distance,
        query_variant=hit.query_variant,
        stored_variant=hit.stored_variant,
        query_match_percent=hit.query_match_percent,
        compared_match_percent=hit.compared_match_percent,
    )


def _group(hits: list[Hit]) -> list[BankMatches]:
    groups: dict[int, BankMatches] = {}
    for hit in hits:
        group = groups.get(hit.bank.id)
        if group is None:
            group = groups[hit.bank.id] = BankMatches(
                bank_id=hit.bank.id, bank=hit.bank.name, action=hit.bank.action, matches=[]
            )
        group.matches.append(_match_out(hit))
    return list(groups.values())


def _respond(
    state: ServiceState,
    principal: Principal,
    kind: str,
    labelled: Sequence[tuple[str | None, str | None, MatchOutcome]],
    queries: Sequence[HashRecord] = (),
) -> MatchResponse:
    request_id = str(uuid.uuid4())
    results = []
    records = []
    for position, (client_id, filename, outcome) in enumerate(labelled):
        results.append(
            QueryResult(
                query=position,
                id=client_id,
                filename=filename,
                matched=bool(outcome.matches),
                banks=_group(outcome.matches),
                negative=_group(outcome.negative),
                suppressed=outcome.suppressed,
            )
        )
        label = (client_id or filename or f"query {position}")[:500]
        for hit in outcome.matches:
            details: dict[str, object] = {"query": position}
            if hit.query_match_percent is not None:
                details["query_match_percent"] = hit.query_match_percent
                details["compared_match_percent"] = hit.compared_match_percent
            records.append(
                MatchRecord(
                    request_id=request_id,
                    api_key_id=principal.key_id,
                    query_kind=kind,
                    query_label=label,
                    bank_id=hit.bank.id,
                    entry_id=hit.entry_id,
                    signal_type=hit.signal,
                    distance=hit.distance,
                    query_variant=hit.query_variant,
                    details=details,
                    query_key=query_key(queries[position]) if queries else None,
                )
            )
    if records:
        with state.db.session() as session:
            session.add_all(records)
            session.flush()
            signals = {
                r.id: signals_json(queries[r.details["query"]])
                for r in records
                if queries and REVIEW in actions_of(_bank_action(state, r.bank_id))
            }
            quarantined = on_new_records(state, session, records, signals)
        for entry_id in quarantined:  # stops matching here before the caller hears back
            state.publish(ChangeKind.ENTRY, entry_id)
        state.actions_enqueued()
    return MatchResponse(request_id=request_id, results=results)


@router.post("/hashes", response_model=MatchResponse)
def match_hashes(
    body: MatchHashesRequest,
    state: State,
    principal: Annotated[Principal, require(Permission.MATCH)],
) -> MatchResponse:
    """Match one or more items given by hash (pdq, md5, sha256, vpdq) against the banks."""
    thresholds = _thresholds(body)
    banks = _bank_filter(state, body.banks)
    records = [_query_record(q, f"body.queries.{i}") for i, q in enumerate(body.queries)]
    outcomes = [match_record(state.index, r, thresholds, banks) for r in records]
    return _respond(
        state,
        principal,
        "hashes",
        [(q.id, None, o) for q, o in zip(body.queries, outcomes, strict=True)],
        records,
    )


@router.post("/upload", response_model=MatchResponse)
def match_upload(
    state: State,
    principal: Annotated[Principal, require(Permission.MATCH)],
    files: Annotated[
        list[UploadFile], File(description=f"1-{MAX_UPLOADS} photos or videos; not kept.")
    ],
    max_distance: Annotated[int | None, Form()] = None,
    min_quality: Annotated[int | None, Form()] = None,
    min_query_match_percent: Annotated[float | None, Form()] = None,
    banks: Annotated[str | None, Form(description="Comma-separated bank names.")] = None,
) -> MatchResponse:
    """Hash uploaded media server-side and match it; videos match by vPDQ frame percentages."""
    try:
        thresholds = _thresholds(
            MatchThresholds(
                max_distance=max_distance,
                min_quality=min_quality,
                min_query_match_percent=min_query_match_percent,
            )
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise ApiError(
            422, str(first["msg"]).removeprefix("Value error, "), str(first["loc"][0])
        ) from None
    if not 1 <= len(files) <= MAX_UPLOADS:
        raise ApiError(422, f"send 1-{MAX_UPLOADS} files", "files")
    names = [n.strip() for n in banks.split(",") if n.strip()] if banks else None
    bank_ids = _bank_filter(state, names)
    labelled = []
    hashed = []
    for position, upload in enumerate(files):
        record = hash_upload(upload, state.settings.max_upload_bytes, f"files.{position}")
        outcome = match_record(state.index, record, thresholds, bank_ids)
        labelled.append((None, printable(upload.filename or "", 500) or None, outcome))
        hashed.append(record)
    return _respond(state, principal, "upload", labelled, hashed)
