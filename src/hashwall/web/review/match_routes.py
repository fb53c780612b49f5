"""Match records awaiting review: the queue, one record's page, claim and decision.

The handlers call the JSON API's own functions (``service.routes.reviews``), so claims, the
"already decided" and "claimed by another reviewer" rules and the negative-bank path behave
exactly as over the API; their errors come back as a message on the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from hashwall.service.action_schemas import ReviewDecision, ReviewOut
from hashwall.service.auth import Permission
from hashwall.service.errors import ApiError
from hashwall.service.routes import reviews
from hashwall.service.state import ServiceState
from hashwall.store import Bank
from hashwall.store.action_models import ReviewStatus
from hashwall.store.catalog_models import CatalogItem
from hashwall.web.review.access import Reviewer, checked_form, needs, service_state
from hashwall.web.review.bodies import reviewer_form
from hashwall.web.review.pages import PageError, redirect, render
from hashwall.web.review.thumbnails import thumbnail_url

router = APIRouter(include_in_schema=False)
ReviewerDep = Annotated[Reviewer, Depends(needs(Permission.REVIEW))]
ReviewId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _bank_names(state: ServiceState) -> dict[int, str]:
    with state.db.session() as session:
        return {bank_id: name for bank_id, name in session.execute(select(Bank.id, Bank.name))}


@router.get("/review/matches")
async def match_queue(request: Request, reviewer: ReviewerDep) -> Response:
    state = service_state(request)
    listing = await run_in_threadpool(
        reviews.list_reviews, state, reviewer.principal, ReviewStatus.PENDING, None, 0, 200
    )
    names = await run_in_threadpool(_bank_names, state)
    context = {"title": "Match records", "user": reviewer, "reviews": listing.reviews}
    return render("review/matches.html", {**context, "banks": names})


def _page_context(state: ServiceState, reviewer: Reviewer, review_id: int) -> dict[str, Any]:
    try:
        review = reviews.get_review(review_id, state, reviewer.principal)
    except ApiError as error:
        raise PageError(error.status, error.message) from None
    with state.db.session() as session:
        bank = session.get(Bank, review.bank_id)
        item_id = review.match_record.catalog_item_id
        item = session.get(CatalogItem, item_id) if item_id is not None else None
        negative = session.scalars(select(Bank).where(Bank.negative).order_by(Bank.name)).all()
        return {
            "title": f"Match record review #{review.id}",
            "user": reviewer,
            "review": review,
            "bank_name": bank.name if bank else str(review.bank_id),
            "item": {"content_id": item.content_id, "url": item.url} if item else None,
            "thumbnail": thumbnail_url(item.meta) if item else None,
            "negative_banks": [{"id": b.id, "name": b.name} for b in negative],
            "error": "",
            "claim_minutes": max(1, state.settings.review_claim_seconds // 60),
        }


@router.get("/review/matches/{review_id}")
async def match_page(request: Request, review_id: ReviewId, reviewer: ReviewerDep) -> Response:
    state = service_state(request)
    context = await run_in_threadpool(_page_context, state, reviewer, review_id)
    return render("review/match.html", context)


def _decision(form: Any) -> ReviewDecision:
    negative = str(form.get("negative_bank_id") or "").strip()
    try:
        return ReviewDecision(
            decision=str(form.get("decision") or ""),  # type: ignore[arg-type]
            note=str(form.get("note") or "").strip(),
            negative_bank_id=int(negative) if negative.isdigit() else None,
        )
    except ValidationError as error:
        raise PageError(
            400, "Choose confirm or dismiss; the note is at most 2000 characters."
        ) from (error)


def _apply(
    state: ServiceState, reviewer: Reviewer, review_id: int, body: ReviewDecision | None
) -> ReviewOut | str:
    """Claim (``body`` is ``None``) or decide; the API's reason when it refuses (shown on the
    page as the JSON API would answer it: already decided, claimed by another reviewer...)."""
    try:
        if body is None:
            return reviews.claim_review(review_id, state, reviewer.principal)
        return reviews.decide_review(review_id, body, state, reviewer.principal)
    except ApiError as error:
        if error.status == 404:
            raise PageError(404, error.message) from None
        return error.message


async def _act(request: Request, review_id: int, reviewer: Reviewer, decide: bool) -> Response:
    form = await checked_form(request, reviewer)
    state = service_state(request)
    body = _decision(form) if decide else None
    outcome = await run_in_threadpool(_apply, state, reviewer, review_id, body)
    if isinstance(outcome, str):
        context = await run_in_threadpool(_page_context, state, reviewer, review_id)
        return render("review/match.html", {**context, "error": outcome}, 409)
    return redirect(f"/review/matches/{review_id}")


@router.post("/review/matches/{review_id}/claim")
@reviewer_form
async def claim_match(request: Request, review_id: ReviewId, reviewer: ReviewerDep) -> Response:
    return await _act(request, review_id, reviewer, decide=False)


@router.post("/review/matches/{review_id}/decision")
@reviewer_form
async def decide_match(request: Request, review_id: ReviewId, reviewer: ReviewerDep) -> Response:
    return await _act(request, review_id, reviewer, decide=True)
