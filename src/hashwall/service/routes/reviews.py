"""The review queue: match records of banks whose action includes ``review``.

A reviewer claims an item (others get 409 until the claim expires), then decides
``confirmed`` or ``false_positive``; a false positive can add the matched item's hashes to a
negative bank, so the same look-alike is suppressed everywhere from then on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.service.action_schemas import ReviewDecision, ReviewList, ReviewOut
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.errors import ApiError
from hashwall.service.records import record_from_signals
from hashwall.service.routes.common import Id
from hashwall.service.routes.entries import new_entry
from hashwall.service.schemas import MatchRecordOut
from hashwall.service.state import ServiceState, get_state
from hashwall.store import Bank, Change, ChangeKind, MatchRecord
from hashwall.store.action_models import ReviewItem, ReviewStatus
from hashwall.store.models import utcnow

router = APIRouter(prefix="/v1/reviews", tags=["review"])
State = Annotated[ServiceState, Depends(get_state)]


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def review_out(item: ReviewItem, record: MatchRecord) -> ReviewOut:
    return ReviewOut(
        id=item.id,
        status=item.status.value,
        bank_id=item.bank_id,
        match_record=MatchRecordOut.model_validate(record, from_attributes=True),
        claimed_by=item.claimed_by,
        claimed_at=item.claimed_at,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        note=item.note,
        negative_entry_id=item.negative_entry_id,
        created_at=item.created_at,
    )


@router.get("", response_model=ReviewList)
def list_reviews(
    state: State,
    _: Annotated[Principal, require(Permission.REVIEW)],
    status: Annotated[ReviewStatus | None, Query()] = ReviewStatus.PENDING,
    bank_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReviewList:
    """Review items, oldest first (default: pending ones)."""
    with state.db.session(readonly=True) as session:
        query = (
            select(ReviewItem, MatchRecord)
            .join(MatchRecord, MatchRecord.id == ReviewItem.match_record_id)
            .where(ReviewItem.id > after_id)
            .order_by(ReviewItem.id)
            .limit(limit)
        )
        if status is not None:
            query = query.where(ReviewItem.status == status)
        if bank_id is not None:
            query = query.where(ReviewItem.bank_id == bank_id)
        reviews = [review_out(item, record) for item, record in session.execute(query).all()]
    return ReviewList(
        reviews=reviews, next_after_id=reviews[-1].id if len(reviews) == limit else None
    )


def _load(state: ServiceState, session: Session, review_id: int) -> tuple[ReviewItem, MatchRecord]:
    item = session.get(ReviewItem, review_id, with_for_update=not state.db.is_sqlite)
    if item is None:
        raise ApiError(404, f"no review item with id {review_id}", "review_id")
    record = session.get(MatchRecord, item.match_record_id)
    assert record is not None
    return item, record


def _check_claim(state: ServiceState, item: ReviewItem, principal: Principal) -> None:
    if item.status is not ReviewStatus.PENDING:
        raise ApiError(409, f"already decided ({item.status.value})", "review_id")
    claimed_at = _aware(item.claimed_at)
    if item.claimed_by not in (None, principal.key_id) and claimed_at is not None:
        expires = claimed_at + timedelta(seconds=state.settings.review_claim_seconds)
        if expires > datetime.now(UTC):
            raise ApiError(409, "claimed by another reviewer", "review_id")


@router.get("/{review_id}", response_model=ReviewOut)
def get_review(
    review_id: Id, state: State, _: Annotated[Principal, require(Permission.REVIEW)]
) -> ReviewOut:
    with state.db.session(readonly=True) as session:
        return review_out(*_load(state, session, review_id))


@router.post("/{review_id}/claim", response_model=ReviewOut)
def claim_review(
    review_id: Id,
    state: State,
    principal: Annotated[Principal, require(Permission.REVIEW)],
) -> ReviewOut:
    """Take an item so no other reviewer works on it (for ``review_claim_seconds``)."""
    with state.db.session() as session:
        item, record = _load(state, session, review_id)
        _check_claim(state, item, principal)
        item.claimed_by = principal.key_id
        item.claimed_at = utcnow()
        session.flush()
        return review_out(item, record)


@router.post("/{review_id}/decision", response_model=ReviewOut)
def decide_review(
    review_id: Id,
    body: ReviewDecision,
    state: State,
    principal: Annotated[Principal, require(Permission.REVIEW)],
) -> ReviewOut:
    """Confirm the match, or mark it a false positive (optionally into a negative bank)."""
    if body.negative_bank_id is not None and body.decision != "false_positive":
        raise ApiError(422, "only a false positive goes to a negative bank", "negative_bank_id")
    negative_entry = None
    with state.db.session() as session:
        item, record = _load(state, session, review_id)
        _check_claim(state, item, principal)
        if body.negative_bank_id is not None:
            bank = session.get(Bank, body.negative_bank_id)
            if bank is None:
                raise ApiError(404, f"no bank with id {body.negative_bank_id}", "negative_bank_id")
            if not bank.negative:
                raise ApiError(422, "the bank is not a negative bank", "negative_bank_id")
            rows = [tuple(row) for row in json.loads(item.query_signals)]
            if not rows:
                raise ApiError(422, "the matched item's hashes were not kept", "negative_bank_id")
            content_type = "video" if any(r[0] == "vpdq" for r in rows) else "photo"
            negative_entry = new_entry(
                bank.id,
                record_from_signals(content_type, rows),
                label=f"false positive of review {item.id}",
                source="review",
                metadata={"review_id": item.id, "match_record_id": record.id},
            )
            session.add(negative_entry)
            session.flush()
            session.add(Change(kind=ChangeKind.ENTRY, target_id=negative_entry.id))
            item.negative_entry_id = negative_entry.id
        item.status = ReviewStatus(body.decision)
        item.note = body.note
        item.decided_by = principal.key_id
        item.decided_at = utcnow()
        session.flush()
        out = review_out(item, record)
    if negative_entry is not None:  # suppresses matches here before the caller hears back
        state.publish(ChangeKind.ENTRY, negative_entry.id)
    return out
