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

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, distinct, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from hashwall.store import Bank, Change, ChangeKind, Entry, EntryState, MatchRecord
from hashwall.store.action_models import EntryQuarantine
from hashwall.store.models import utcnow

if TYPE_CHECKING:
    from hashwall.service.settings import Settings
    from hashwall.service.state import ServiceState

WINDOW = timedelta(hours=1)


#: Entries per query (IN-list) when counting a batch.
_CHUNK = 500
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_LAST_DECISION = (
    select(func.max(EntryQuarantine.decided_at))
    .where(EntryQuarantine.entry_id == MatchRecord.entry_id)
    .correlate(MatchRecord)
    .scalar_subquery()
)
# Built once, one query per batch: the match-record writer runs it for every commit.
ACTIVE_COUNTS = (
    select(
        Entry.id,
        Bank.flood_threshold,
        Bank.entry_source,
        func.count(distinct(MatchRecord.query_key)),
    )
    .join(MatchRecord, MatchRecord.entry_id == Entry.id)
    .join(Bank, Bank.id == Entry.bank_id)
    .where(
        Entry.id.in_(_IDS),
        Entry.state == EntryState.ACTIVE,
        MatchRecord.query_key.is_not(None),
        MatchRecord.created_at >= bindparam("since"),
        or_(_LAST_DECISION.is_(None), MatchRecord.created_at > _LAST_DECISION),
    )
    .group_by(Entry.id, Bank.flood_threshold, Bank.entry_source)
)


def flood_limit(settings: Settings, bank_threshold: int | None, entry_source: str | None) -> int:
    """The bank's own threshold, else the server's: the low ``public_flood_threshold`` for
    banks the public fills (an entry anyone could add that suddenly matches many different
    items is far more likely an attack on harmless content than a spreading picture)."""
    if bank_threshold is not None:
        return bank_threshold
    return settings.public_flood_threshold if entry_source else settings.flood_threshold


def distinct_items_in_window(
    session: Session, settings: Settings, entry_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """For each *active* entry with matches in the last hour (since its last quarantine
    decision): the distinct items among them and its flood threshold. One query per 500
    entries, because the match-record writer checks a whole batch at once."""
    since = utcnow() - WINDOW
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(entry_ids), _CHUNK):
        chunk = list(entry_ids[start : start + _CHUNK])
        for entry_id, threshold, source, count in session.execute(
            ACTIVE_COUNTS, {"ids": chunk, "since": since}
        ):
            found[entry_id] = (int(count), flood_limit(settings, threshold, source))
    return found


def check_flood(state: ServiceState, session: Session, entry_ids: Iterable[int]) -> list[int]:
    """Quarantine the given entries that crossed their threshold; returns their ids."""
    quarantined = []
    counted = distinct_items_in_window(session, state.settings, sorted(set(entry_ids)))
    for entry_id, (count, threshold) in sorted(counted.items()):
        if count <= threshold:
            continue
        entry = session.get(Entry, entry_id)
        assert entry is not None  # read as active in this transaction
        entry.state = EntryState.QUARANTINED
        session.add(EntryQuarantine(entry_id=entry_id, distinct_items=count, threshold=threshold))
        session.add(Change(kind=ChangeKind.ENTRY, target_id=entry_id))
        quarantined.append(entry_id)
    if quarantined:
        session.flush()
    return quarantined
