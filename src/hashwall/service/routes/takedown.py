"""Removal requests, platform side (docs/takedown.md): public intake, reviewer queue, case
view, decisions, the DSA statement of reasons, task confirmation, deadline metrics.

The intake is public (no API key: the requester has no account) and rate-limited per client
address with the portal's database-backed throttle, so every worker shares the count.
Everything else needs a key. The routes only translate: the work is in
:mod:`hashwall.service.takedown`, which the reviewer UI calls directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile

from hashwall.cases.intake import IntakeError, RemovalRequest
from hashwall.cases.states import TransitionError
from hashwall.nesting import TooDeep, loads_json
from hashwall.service import takedown
from hashwall.service.auth import Permission, Principal, Role, authenticate, require
from hashwall.service.body_rules import FRAMING_ALLOWANCE, accepts
from hashwall.service.client_address import client_key
from hashwall.service.errors import ApiError, validation_body
from hashwall.service.portal import Rule, Throttles
from hashwall.service.public_uploads import Busy
from hashwall.service.settings import Settings
from hashwall.service.state import ServiceState, get_state
from hashwall.service.takedown.evidence import evidence_zip
from hashwall.service.takedown.schemas import (
    ConfirmIn,
    DetailOut,
    EventIn,
    ReceiptOut,
    RegulatorNoticeIn,
    SummaryList,
    TaskOut,
    detail_out,
    prometheus_text,
    receipt_out,
    summary_out,
)

router = APIRouter(tags=["takedown"])
State = Annotated[ServiceState, Depends(get_state)]
CaseId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_CONFIRMERS = frozenset({Role.CURATOR, Role.REVIEWER, Role.ADMIN})


def actor_of(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.name or principal.key_id}"


def _intake_error(error: IntakeError) -> JSONResponse:
    return JSONResponse(validation_body([(e.field, e.message) for e in error.errors]), 422)


def _not_found(error: LookupError, field: str) -> ApiError:
    return ApiError(404, str(error).strip("'\""), field)


def _conflict(error: TransitionError, field: str = "event") -> ApiError:
    return ApiError(409, str(error), field)


def _parse_json(raw: bytes | str, settings: Settings, field: str, message: str) -> Any:
    try:
        return loads_json(raw, settings.max_json_depth)
    except TooDeep as error:
        raise ApiError(422, str(error), field) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, message, field) from None


async def _json_body(request: Request, settings: Settings) -> Any:
    # The request guard has bounded the body (public_max_json_bytes) while it streamed in.
    raw = await request.body()
    return _parse_json(raw, settings, "body", "the body is not valid JSON") if raw.strip() else None


async def _multipart(request: Request, settings: Settings) -> tuple[Any, bytes | None, str | None]:
    # One file, a handful of fields; the JSON field no larger than a JSON body may be.
    form = await request.form(
        max_files=1, max_fields=8, max_part_size=settings.public_max_json_bytes
    )
    text = form.get("request")
    if not isinstance(text, str):
        raise ApiError(
            422, "a form field 'request' holding the request as JSON is required", "request"
        )
    raw = _parse_json(text, settings, "request", "is not valid JSON")
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return raw, None, None
    assert isinstance(upload, UploadFile)
    return raw, await upload.read(), upload.filename


_INTAKE_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RemovalRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["request"],
                    "properties": {
                        "request": {"type": "string", "description": "The request as JSON."},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}


def _public_upload_limit(settings: Settings) -> int:
    return settings.public_max_upload_bytes + FRAMING_ALLOWANCE


def _public_json_limit(settings: Settings) -> int:
    return settings.public_max_json_bytes


@router.post(
    "/v1/takedown/requests",
    status_code=201,
    response_model=ReceiptOut,
    openapi_extra=_INTAKE_SCHEMA,
    responses={
        413: {"description": "Body over the public limits"},
        415: {"description": "Neither JSON nor multipart"},
        422: {"description": "One error per bad field."},
        429: {"description": "Rate, or too many uploads being processed"},
    },
)
@accepts("json_or_multipart", _public_upload_limit, json_limit=_public_json_limit)
async def submit(request: Request, state: State) -> Any:
    """Submit a removal request (public, no API key; rate-limited per client address).

    JSON, or multipart with the request as JSON in `request` and an optional copy of the
    content in `file` (hashed, then deleted). Answers the case number and the deadline."""
    client = client_key(request)  # IPv6: the /64
    rule = Rule("takedown-ip", state.settings.takedown_requests_per_ip_hour, 3600, 3600)
    throttles = Throttles(state.db, state.settings.secret_key)
    lock = await run_in_threadpool(throttles.reserve, rule, client)
    if lock is not None:
        raise ApiError(
            429,
            "too many removal requests from your network: try again later",
            "body",
            {"Retry-After": str(lock.retry_after)},
        )
    upload = upload_name = None
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        raw, upload, upload_name = await _multipart(request, state.settings)
    else:
        raw = await _json_body(request, state.settings)
    try:
        receipt = await _submit_gated(state, client, raw, upload, upload_name)
    except IntakeError as error:
        return _intake_error(error)
    except Busy as busy:
        raise ApiError(429, busy.message, "file", {"Retry-After": str(busy.retry_after)}) from None
    return JSONResponse(receipt_out(receipt).model_dump(mode="json"), 201)


async def _submit_gated(
    state: ServiceState, client: str, raw: Any, upload: bytes | None, upload_name: str | None
) -> takedown.TakedownReceipt:
    """Submit; a request with a copy to decode waits for a public-upload slot first."""

    def work() -> takedown.TakedownReceipt:
        return takedown.submit_request(state, raw, upload=upload, upload_name=upload_name)

    if upload is None:
        return await run_in_threadpool(work)
    async with state.public_uploads.slot(client, state.settings.public_upload_wait_seconds):
        return await run_in_threadpool(work)


@router.get("/v1/takedown/requests", response_model=SummaryList)
def queue(
    state: State,
    _: Annotated[Principal, require(Permission.REVIEW)],
    case_state: Annotated[
        list[str] | None, Query(alias="state", description="Only cases in these states.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> SummaryList:
    """The removal-request queue, most urgent (earliest deadline) first."""
    try:
        found = takedown.list_requests(state, states=case_state, limit=limit)
    except ValueError as error:
        raise ApiError(422, str(error), "state") from None
    return SummaryList(requests=[summary_out(s) for s in found])


@router.get("/v1/takedown/requests/{case_id}", response_model=DetailOut)
def case(
    case_id: CaseId, state: State, principal: Annotated[Principal, require(Permission.REVIEW)]
) -> DetailOut:
    """One case with its removal tasks and audit timeline (the access is audited)."""
    try:
        return detail_out(takedown.get_request(state, case_id, actor=actor_of(principal)))
    except takedown.TakedownNotFound as error:
        raise _not_found(error, "case_id") from None


@router.post("/v1/takedown/requests/{case_id}/events", response_model=DetailOut)
def event(
    case_id: CaseId,
    body: EventIn,
    state: State,
    principal: Annotated[Principal, require(Permission.REVIEW)],
) -> DetailOut:
    """Apply a decision or step: start_review, action, reject (with reason), notify, appeal,
    withdraw, close. 409 when the case's state does not allow it."""
    try:
        return detail_out(
            takedown.decide(
                state,
                case_id,
                body.event,
                actor=actor_of(principal),
                reason=body.reason,
                legal_ground=body.legal_ground,
            )
        )
    except takedown.TakedownNotFound as error:
        raise _not_found(error, "case_id") from None
    except TransitionError as error:
        raise _conflict(error) from None


@router.post("/v1/takedown/requests/{case_id}/regulator-notices", response_model=DetailOut)
def regulator_notice(
    case_id: CaseId,
    body: RegulatorNoticeIn,
    state: State,
    principal: Annotated[Principal, require(Permission.REVIEW)],
) -> DetailOut:
    """Record an eSafety removal notice (Online Safety Act 2021 (Cth) ss 77-79): the case's
    deadline becomes the notice's 24 hours (or the longer period allowed) when that is sooner,
    as a legal deadline. 409 for a decided case, 422 for a notice dated in the future."""
    try:
        view = takedown.record_esafety_notice(
            state,
            case_id,
            given_at=body.given_at,
            period=timedelta(hours=body.period_hours),
            reference=body.reference,
            actor=actor_of(principal),
        )
    except takedown.TakedownNotFound as error:
        raise _not_found(error, "case_id") from None
    except TransitionError as error:
        raise _conflict(error, "case_id") from None
    except ValueError as error:
        raise ApiError(422, str(error), "given_at") from None
    return detail_out(view)


@router.get(
    "/v1/takedown/requests/{case_id}/decision-notice",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def notice(
    case_id: CaseId, state: State, _: Annotated[Principal, require(Permission.REVIEW)]
) -> PlainTextResponse:
    """The DSA Art. 17 statement of reasons of a decided case, as plain text."""
    try:
        return PlainTextResponse(takedown.decision_notice(state, case_id))
    except takedown.TakedownNotFound as error:
        raise _not_found(error, "case_id") from None
    except TransitionError as error:
        raise _conflict(error, "case_id") from None


@router.get(
    "/v1/takedown/requests/{case_id}/evidence",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def evidence(
    case_id: CaseId, state: State, principal: Annotated[Principal, require(Permission.REVIEW)]
) -> Response:
    """The case's evidence pack as a zip (evidence.json, summary.pdf, SHA256SUMS): request,
    tasks, block-list hashes and audit entries, no media. The export is audited."""
    try:
        data = evidence_zip(state, case_id, actor=actor_of(principal))
    except takedown.TakedownNotFound as error:
        raise _not_found(error, "case_id") from None
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{case_id}-evidence.zip"',
            "Cache-Control": "no-store",
        },
    )


async def _confirmer(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if principal.role not in _CONFIRMERS:
        raise ApiError(
            403,
            f"role {principal.role.value!r} may not confirm removals (curator, reviewer or admin)",
            "X-API-Key",
        )
    return principal


@router.post("/v1/takedown/tasks/{task_id}/confirm", response_model=TaskOut)
def confirm(
    task_id: TaskId,
    state: State,
    principal: Annotated[Principal, Depends(_confirmer)],
    body: ConfirmIn | None = None,
) -> TaskOut:
    """The platform confirms it removed the copy of one task (only this makes a task done)."""
    note = body.note if body is not None else None
    try:
        view = takedown.confirm_task(state, task_id, actor=actor_of(principal), note=note)
    except takedown.TaskNotFound as error:
        raise _not_found(error, "task_id") from None
    except TransitionError as error:
        raise _conflict(error, "task_id") from None
    return TaskOut(**view.__dict__)


@router.get(
    "/v1/takedown/metrics",
    responses={200: {"content": {"application/json": {}, "text/plain": {}}}},
)
def metrics(
    request: Request,
    state: State,
    _: Annotated[Principal, require(Permission.REVIEW)],
    format: Annotated[str | None, Query(pattern="^(json|prometheus)$")] = None,
) -> Response:
    """Deadline and task counts; Prometheus text with `?format=prometheus` or
    `Accept: text/plain`."""
    counts = takedown.deadline_metrics(state)
    wants_text = format == "prometheus" or (
        format is None and "text/plain" in request.headers.get("accept", "")
    )
    if wants_text:
        return PlainTextResponse(prometheus_text(counts), media_type="text/plain; version=0.0.4")
    return JSONResponse(counts)
