"""Match API: by hashes (single or batch) and by media upload; matches are recorded.

Match by hash is the hot path (docs/service.md, "Performance"): it runs on the event loop,
answers with JSON built from dicts, and hands its match records to the worker's
:class:`~hashwall.service.record_writer.RecordWriter`, waiting for their commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from hashwall.hashing.record import HashRecord
from hashwall.service.actions.queries import query_key
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.bank_match import Hit, MatchOutcome, Thresholds, match_record
from hashwall.service.errors import ApiError, printable
from hashwall.service.hash_input import record_from_hashes, record_from_object, record_from_value
from hashwall.service.record_writer import MatchRow
from hashwall.service.request_ids import new_request_id
from hashwall.service.schemas import (
    MatchHashesRequest,
    MatchQuery,
    MatchResponse,
    MatchThresholds,
)
from hashwall.service.state import ServiceState, get_state
from hashwall.service.uploads import hash_upload
from hashwall.signals import pdq, vpdq

router = APIRouter(prefix="/v1/match", tags=["match"])
State = Annotated[ServiceState, Depends(get_state)]
MAX_UPLOADS = 16
#: Requests of at most this many plain hash values are matched on the event loop.
INLINE_QUERIES = 4
INLINE_HASH_CHARS = 200


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


def _match_json(hit: Hit) -> dict[str, object]:
    """One :class:`MatchOut`, as a dict in its field order (see :func:`answer_bytes`)."""
    return {
        "entry_id": hit.entry_id,
        "entry_state": "active",
        "entry_source": hit.bank.source_label,
        "signal": hit.signal,
        "distance": hit.distance,
        "query_variant": hit.query_variant,
        "stored_variant": hit.stored_variant,
        "query_match_percent": hit.query_match_percent,
        "compared_match_percent": hit.compared_match_percent,
    }


def _group(hits: list[Hit]) -> list[dict[str, object]]:
    """Hits as :class:`BankMatches`, one per bank in the order the banks first appear."""
    groups: dict[int, dict[str, object]] = {}
    for hit in hits:
        group = groups.get(hit.bank.id)
        if group is None:
            group = groups[hit.bank.id] = {
                "bank_id": hit.bank.id,
                "bank": hit.bank.name,
                "action": hit.bank.action,
                "entry_source": hit.bank.source_label,
                "review_only": hit.bank.review_only,
                "matches": [],
            }
        matches = group["matches"]
        assert isinstance(matches, list)
        matches.append(_match_json(hit))
    return list(groups.values())


def _result_json(
    position: int, client_id: str | None, filename: str | None, outcome: MatchOutcome
) -> dict[str, object]:
    """One :class:`QueryResult` as a dict."""
    return {
        "query": position,
        "id": client_id,
        "filename": filename,
        "matched": any(not hit.bank.review_only for hit in outcome.matches),
        "needs_review": any(hit.bank.review_only for hit in outcome.matches),
        "banks": _group(outcome.matches),
        "negative": _group(outcome.negative),
        "suppressed": outcome.suppressed,
    }


def answer_bytes(body: dict[str, object]) -> bytes:
    """The answer as :class:`MatchResponse` JSON, built without pydantic.

    Why: validating and serialising the response model cost more CPU than the match itself
    on the hot path. The dicts above mirror the models field by field (the OpenAPI schema
    still comes from ``response_model``); ``tests/service/test_match_fast.py`` validates
    answers against :class:`MatchResponse` so the two cannot drift apart.
    """
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def _json_response(body: dict[str, object]) -> Response:
    return Response(answer_bytes(body), media_type="application/json")


def _records_of(
    principal: Principal,
    kind: str,
    request_id: str,
    labelled: Sequence[tuple[str | None, str | None, MatchOutcome]],
    queries: Sequence[HashRecord],
) -> list[MatchRow]:
    """A match record's columns per reported match (``details["query"]``: the query's
    position); the writer makes ORM objects of them only when a bank has actions."""
    records = []
    for position, (client_id, filename, outcome) in enumerate(labelled):
        label = (client_id or filename or f"query {position}")[:500]
        for hit in outcome.matches:
            details: dict[str, object] = {"query": position, "entry_source": hit.bank.source_label}
            if hit.query_match_percent is not None:
                details["query_match_percent"] = hit.query_match_percent
                details["compared_match_percent"] = hit.compared_match_percent
            records.append(
                {
                    "request_id": request_id,
                    "api_key_id": principal.key_id,
                    "query_kind": kind,
                    "query_label": label,
                    "bank_id": hit.bank.id,
                    "entry_id": hit.entry_id,
                    "signal_type": hit.signal,
                    "distance": hit.distance,
                    "query_variant": hit.query_variant,
                    "details": details,
                    "query_key": query_key(queries[position]) if queries else None,
                }
            )
    return records


def answer_of(
    principal: Principal,
    kind: str,
    labelled: Sequence[tuple[str | None, str | None, MatchOutcome]],
    queries: Sequence[HashRecord],
) -> tuple[dict[str, object], list[MatchRow]]:
    """The response body and the match records to store before it is sent."""
    request_id = new_request_id()
    results = [
        _result_json(position, client_id, filename, outcome)
        for position, (client_id, filename, outcome) in enumerate(labelled)
    ]
    records = _records_of(principal, kind, request_id, labelled, queries)
    return {"request_id": request_id, "results": results}, records


def is_small(body: MatchHashesRequest) -> bool:
    """A few plain hash values: parsing and searching them (~0.1 ms per PDQ search at 1M
    hashes) costs less than a thread-pool hop, so they are matched on the event loop (here
    and in ``fast_match``). Batches, records (18 variants each) and videos go to the pool
    instead, so a big request cannot stall the others."""
    if len(body.queries) > INLINE_QUERIES:
        return False
    for query in body.queries:
        if query.signal_value is not None:
            text = len(query.signal_value)
        elif query.hashes is not None:
            text = sum(len(h.signal_value) for h in query.hashes)
        else:
            return False
        if text > INLINE_HASH_CHARS:
            return False
    return True


def match_body(
    state: ServiceState, body: MatchHashesRequest
) -> tuple[list[HashRecord], list[MatchOutcome]]:
    """Parse and match every query; an :class:`ApiError` names the first bad field."""
    thresholds = _thresholds(body)
    banks = _bank_filter(state, body.banks)
    records = [_query_record(q, f"body.queries.{i}") for i, q in enumerate(body.queries)]
    return records, [match_record(state.index, r, thresholds, banks) for r in records]


@router.post("/hashes", response_model=MatchResponse)
async def match_hashes(
    body: MatchHashesRequest,
    state: State,
    principal: Annotated[Principal, require(Permission.MATCH)],
) -> Response:
    """Match one or more items given by hash (pdq, md5, sha256, vpdq) against the banks."""
    if is_small(body):
        records, outcomes = match_body(state, body)
    else:
        records, outcomes = await run_in_threadpool(match_body, state, body)
    answer, stored = answer_of(
        principal,
        "hashes",
        [(q.id, None, o) for q, o in zip(body.queries, outcomes, strict=True)],
        records,
    )
    if stored:  # group commit: answer once the records (and their actions) are stored
        await state.records.submit_async(stored, records)
    return _json_response(answer)


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
) -> Response:
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
    answer, stored = answer_of(principal, "upload", labelled, hashed)
    if stored:
        state.records.submit(stored, hashed).result()
    return _json_response(answer)
