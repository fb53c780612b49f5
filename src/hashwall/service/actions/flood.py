"""Flood quarantine: an entry that suddenly matches many distinct items is held for review.

A bank entry that matches hundreds of different uploads within an hour is far more likely a
bad hash (a logo, a blank frame, a meme template) than hundreds of copies of one intimate
image; StopNCII's partners asked for such entries to stop matching until a person looks.
"Distinct" counts match records by ``query_key`` (the query's strongest digest or hash, or
``catalog:<id>`` for a swept catalog item), so one item queried a thousand times counts once.
The count restarts after the entry's last quarantine decision, so reinstating an entry is
not undone by the very matches that were just reviewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import Session

from hashwall.store import Bank, Change, ChangeKind, Entry, EntryState, MatchRecord
from hashwall.store.action_models import EntryQuarantine
from hashwall.store.models import utcnow

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

WINDOW = timedelta(hours=1)


def distinct_items_in_window(session: Session, entry_id: int) -> int:
    last_decision = (
        select(func.max(EntryQuarantine.decided_at))
        .where(EntryQuarantine.entry_id == entry_id)
        .scalar_subquery()
    )
    query = select(func.count(distinct(MatchRecord.query_key))).where(
        MatchRecord.entry_id == entry_id,
        MatchRecord.query_key.is_not(None),
        MatchRecord.created_at >= utcnow() - WINDOW,
        or_(last_decision.is_(None), MatchRecord.created_at > last_decision),
    )
    return int(session.scalar(query) or 0)


def check_flood(
    state: ServiceState, session: Session, entry_ids: Iterable[int], banks: Mapping[int, Bank]
) -> list[int]:
    """Quarantine the given entries that crossed their threshold; returns their ids."""
    quarantined = []
    for entry_id in sorted(set(entry_ids)):
        entry = session.get(Entry, entry_id)
        if entry is None or entry.state is not EntryState.ACTIVE:
            continue
        bank = banks.get(entry.bank_id) or session.get(Bank, entry.bank_id)
        threshold = state.settings.flood_threshold
        if bank is not None and bank.flood_threshold is not None:
            threshold = bank.flood_threshold
        count = distinct_items_in_window(session, entry_id)
        if count <= threshold:
            continue
        entry.state = EntryState.QUARANTINED
        session.add(EntryQuarantine(entry_id=entry_id, distinct_items=count, threshold=threshold))
        session.add(Change(kind=ChangeKind.ENTRY, target_id=entry_id))
        quarantined.append(entry_id)
    if quarantined:
        session.flush()
    return quarantined
