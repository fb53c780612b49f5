"""Removal requests for reviewers: the deadline queue, the case page, decisions, the notice.

Every case view goes through the backend's ``get_request(actor=...)``, so each look at a case
is written to the hash-chained audit log under the reviewer's name. Decisions are the state
machine's events (``hashwall.cases.states``); the page offers only the events the case allows
now, and a refused one (say, a reject without a reason) comes back as a message on the page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from hashwall.cases.states import CaseState, TransitionError
from hashwall.service.auth import Permission
from hashwall.service.state import ServiceState
from hashwall.service.takedown import (
    RequestDetail,
    TakedownNotFound,
    deadline_metrics,
    decide,
    decision_notice,
    evidence_zip,
    get_request,
    list_requests,
    record_esafety_notice,
)
from hashwall.web.review import thumbnails
from hashwall.web.review.access import Reviewer, checked_form, needs, service_state
from hashwall.web.review.bodies import reviewer_form
from hashwall.web.review.pages import HEADERS, PageError, redirect, render

router = APIRouter(include_in_schema=False)
ReviewerDep = Annotated[Reviewer, Depends(needs(Permission.REVIEW))]
CaseId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]
#: Cases that still need a reviewer: undecided, or decided but the requester not yet told.
WORK_STATES = [
    CaseState.RECEIVED,
    CaseState.UNDER_REVIEW,
    CaseState.APPEALED,
    CaseState.ACTIONED,
    CaseState.REJECTED,
]
EVENT_LABELS = {
    "start_review": "Start review",
    "action": "Action it: the content is removed",
    "reject": "Reject (needs a reason)",
    "notify": "Requester notified of the decision",
    "appeal": "Record an appeal",
    "withdraw": "Record a withdrawal",
    "close": "Close the case",
}


@router.get("/review")
async def request_queue(
    request: Request, reviewer: ReviewerDep, show: Annotated[str, Query()] = "open"
) -> Response:
    state = service_state(request)
    states = None if show == "all" else [s.value for s in WORK_STATES]
    rows = await run_in_threadpool(lambda: list_requests(state, states=states, limit=500))
    metrics = await run_in_threadpool(deadline_metrics, state)
    context = {
        "title": "Removal requests",
        "user": reviewer,
        "requests": rows,
        "metrics": metrics,
        "show_all": show == "all",
    }
    return render("review/requests.html", context)


def _case_context(
    state: ServiceState, reviewer: Reviewer, detail: RequestDetail, error: str = ""
) -> dict[str, Any]:
    with state.db.session() as session:
        thumbs = thumbnails.by_content_id(session, [task.content_id for task in detail.tasks])
    events = [(event, EVENT_LABELS.get(event, event)) for event in detail.allowed_events]
    return {
        "title": f"Case {detail.case_id}",
        "user": reviewer,
        "case": detail,
        "thumbnails": thumbs,
        "events": events,
        "error": error,
        "eu_legal_ground": state.settings.takedown_eu_legal_ground,
    }


def _load(state: ServiceState, reviewer: Reviewer, case_id: str) -> RequestDetail:
    try:
        return get_request(state, case_id, actor=reviewer.actor)
    except TakedownNotFound:
        raise PageError(404, f"There is no removal request {case_id}.") from None


@router.get("/review/requests/{case_id}")
async def case_page(request: Request, case_id: CaseId, reviewer: ReviewerDep) -> Response:
    state = service_state(request)
    detail = await run_in_threadpool(_load, state, reviewer, case_id)
    return render("review/case.html", _case_context(state, reviewer, detail))


def _decide(
    state: ServiceState,
    reviewer: Reviewer,
    case_id: str,
    event: str,
    texts: tuple[str | None, str | None],
) -> tuple[RequestDetail, str]:
    """The case after the event, or as it stands with the reason the event was refused.

    ``texts`` is the reason and, for an action, the national provision relied on."""
    reason, ground = texts
    try:
        detail = decide(
            state, case_id, event, actor=reviewer.actor, reason=reason, legal_ground=ground
        )
        return detail, ""
    except TakedownNotFound:
        raise PageError(404, f"There is no removal request {case_id}.") from None
    except TransitionError as error:
        return _load(state, reviewer, case_id), str(error)


@router.post("/review/requests/{case_id}/decision")
@reviewer_form
async def case_decision(request: Request, case_id: CaseId, reviewer: ReviewerDep) -> Response:
    form = await checked_form(request, reviewer)
    state = service_state(request)
    event = str(form.get("event") or "")
    reason = str(form.get("reason") or "").strip() or None
    # The provision field is on the form for every button; it belongs to an action only.
    ground = (str(form.get("legal_ground") or "").strip() or None) if event == "action" else None
    detail, error = await run_in_threadpool(
        _decide, state, reviewer, case_id, event, (reason, ground)
    )
    if error:
        return render("review/case.html", _case_context(state, reviewer, detail, error), 409)
    return redirect(f"/review/requests/{case_id}")


def _esafety_notice(
    state: ServiceState, reviewer: Reviewer, case_id: str, form: dict[str, str]
) -> tuple[RequestDetail, str]:
    """Record an eSafety removal notice from the case page's form (times are UTC)."""
    try:
        given = datetime.fromisoformat(form["given_at"]).replace(tzinfo=UTC)
        period = timedelta(hours=int(form["period_hours"] or "24"))
        detail = record_esafety_notice(
            state,
            case_id,
            given_at=given,
            period=period,
            reference=form["reference"][:200] or None,
            actor=reviewer.actor,
        )
        return detail, ""
    except TakedownNotFound:
        raise PageError(404, f"There is no removal request {case_id}.") from None
    except (TransitionError, ValueError) as error:
        message = str(error) if str(error) else "Give the time the notice was given."
        return _load(state, reviewer, case_id), f"eSafety notice not recorded: {message}"


@router.post("/review/requests/{case_id}/esafety-notice")
async def case_esafety_notice(request: Request, case_id: CaseId, reviewer: ReviewerDep) -> Response:
    form = await checked_form(request, reviewer)
    state = service_state(request)
    fields = {
        name: str(form.get(name) or "").strip()
        for name in ("given_at", "period_hours", "reference")
    }
    detail, error = await run_in_threadpool(_esafety_notice, state, reviewer, case_id, fields)
    if error:
        return render("review/case.html", _case_context(state, reviewer, detail, error), 422)
    return redirect(f"/review/requests/{case_id}")


def _notice(state: ServiceState, case_id: str) -> str:
    try:
        return decision_notice(state, case_id)
    except TakedownNotFound:
        raise PageError(404, f"There is no removal request {case_id}.") from None
    except TransitionError as error:
        raise PageError(409, str(error)) from None


@router.get("/review/requests/{case_id}/notice")
async def case_notice(request: Request, case_id: CaseId, reviewer: ReviewerDep) -> Response:
    """The DSA statement of reasons as plain text, ready to send to the requester."""
    text = await run_in_threadpool(_notice, service_state(request), case_id)
    return PlainTextResponse(text, headers=HEADERS)


def _evidence(state: ServiceState, reviewer: Reviewer, case_id: str) -> bytes:
    try:
        return evidence_zip(state, case_id, actor=reviewer.actor)
    except TakedownNotFound:
        raise PageError(404, f"There is no removal request {case_id}.") from None


@router.get("/review/requests/{case_id}/evidence")
async def case_evidence(request: Request, case_id: CaseId, reviewer: ReviewerDep) -> Response:
    """The case's evidence pack (zip; the export is audited like a view)."""
    data = await run_in_threadpool(_evidence, service_state(request), reviewer, case_id)
    disposition = f'attachment; filename="{case_id}-evidence.zip"'
    headers = {**HEADERS, "Content-Disposition": disposition}
    return Response(data, media_type="application/zip", headers=headers)
