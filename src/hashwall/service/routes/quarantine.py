"""Flood quarantine review: entries held because they matched too many distinct items.

A quarantined entry does not match (only ``active`` entries are indexed). A reviewer either
reinstates it (it matches again at once, and its flood count starts afresh) or deletes it
(its hashes are erased, as for ``DELETE /v1/entries/{id}``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hashwall.service.action_schemas import QuarantineDecisionIn, QuarantinedOut, QuarantineList
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.errors import ApiError
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.routes.entries import entry_out
from hashwall.service.state import ServiceState, get_state
from hashwall.store import Change, ChangeKind, Entry, EntryState
from hashwall.store.action_models import EntryQuarantine, QuarantineDecision
from hashwall.store.models import utcnow

router = APIRouter(prefix="/v1/quarantine", tags=["review"])
State = Annotated[ServiceState, Depends(get_state)]


@router.get("", response_model=QuarantineList)
def list_quarantined(
    state: State,
    _: Annotated[Principal, require(Permission.REVIEW)],
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> QuarantineList:
    """Entries now in quarantine with why (distinct items in the hour, threshold)."""
    with state.db.session(readonly=True) as session:
        entries = session.scalars(
            select(Entry)
            .options(selectinload(Entry.signals))
            .where(Entry.state == EntryState.QUARANTINED, Entry.id > after_id)
            .order_by(Entry.id)
            .limit(limit)
        ).all()
        out = []
        for entry in entries:
            latest = session.scalars(
                select(EntryQuarantine)
                .where(EntryQuarantine.entry_id == entry.id)
                .order_by(EntryQuarantine.id.desc())
                .limit(1)
            ).first()
            if latest is None:
                continue
            out.append(
                QuarantinedOut(
                    entry=entry_out(entry),
                    quarantine_id=latest.id,
                    distinct_items=latest.distinct_items,
                    threshold=latest.threshold,
                    quarantined_at=latest.created_at,
                )
            )
    return QuarantineList(
        entries=out, next_after_id=entries[-1].id if len(entries) == limit else None
    )


@router.post("/{entry_id}/decision", response_model=QuarantinedOut)
def decide_quarantine(
    entry_id: Id,
    body: QuarantineDecisionIn,
    state: State,
    principal: Annotated[Principal, require(Permission.REVIEW)],
) -> QuarantinedOut:
    """``reinstate`` (matches again before the response) or ``delete`` (hashes erased)."""
    with state.db.session() as session:
        entry = load_or_404(session, Entry, entry_id, "entry")
        if entry.state is not EntryState.QUARANTINED:
            raise ApiError(409, f"the entry is {entry.state.value}, not quarantined", "entry_id")
        latest = session.scalars(
            select(EntryQuarantine)
            .where(EntryQuarantine.entry_id == entry_id)
            .order_by(EntryQuarantine.id.desc())
            .limit(1)
        ).first()
        assert latest is not None
        if body.decision == "reinstate":
            entry.state = EntryState.ACTIVE
            latest.decision = QuarantineDecision.REINSTATED
        else:
            entry.state = EntryState.DELETED
            entry.signals.clear()
            latest.decision = QuarantineDecision.DELETED
        latest.decided_by = principal.key_id
        latest.decided_at = utcnow()
        session.add(Change(kind=ChangeKind.ENTRY, target_id=entry_id))
        session.flush()
        out = QuarantinedOut(
            entry=entry_out(entry),
            quarantine_id=latest.id,
            distinct_items=latest.distinct_items,
            threshold=latest.threshold,
            quarantined_at=latest.created_at,
        )
    state.publish(ChangeKind.ENTRY, entry_id)
    return out
