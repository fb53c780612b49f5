"""Match records past their retention are counted, then deleted, in small batches.

Why: every reported match is a row, and the table's growth alone slowed matching on
PostgreSQL (1,297 → 1,024 requests/s over three runs, issue 20). The records a platform or a
survivor still needs are kept whatever their age:

- links between an entry and a hosted catalog item (``catalog_item_id``): they are the copies
  a takedown removes;
- records still waiting for human review;
- records whose webhook delivery is still pending.

The rest, older than ``HASHWALL_MATCH_RECORD_RETENTION_DAYS``, are added to
``match_rollups`` (per entry, bank and API key: matches, removals, first seen) and deleted in
the same transaction (a decided review item and finished deliveries go with their record:
what they decided, a negative entry or a removal, stays); the status page reads both
(routes/portal.py). Each batch is one short
transaction (on SQLite the write lock is held for milliseconds, not for the whole prune),
and a record is counted only if this transaction's DELETE removed it, so two hosts pruning
at once never count a record twice.

Why not partitions: PostgreSQL partitioning needs the partition key (time) in every unique
constraint and foreign key that involves the table; the sweep's ``(entry_id,
catalog_item_id)`` uniqueness and the three tables pointing at records rule that out without
a redesign. Batched deletes keep the table at its retention's size instead.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hashwall.store import Database, MatchRecord
from hashwall.store.action_models import (
    DeliveryStatus,
    ReviewItem,
    ReviewStatus,
    WebhookDelivery,
)
from hashwall.store.models import utcnow
from hashwall.store.portal_models import PortalRemoval
from hashwall.store.retention_models import NO_KEY, MatchRollup

log = logging.getLogger("hashwall.service.retention")

#: Records deleted per transaction.
PRUNE_BATCH = 2000


@dataclass(frozen=True)
class _Group:
    entry_id: int
    bank_id: int
    api_key_id: int


@dataclass
class _Tally:
    matches: int = 0
    removals: int = 0
    first_record_id: int = 0
    first_seen_at: datetime | None = None

    def add(self, record_id: int, created_at: datetime, removed: bool) -> None:
        self.matches += 1
        self.removals += int(removed)
        if self.first_seen_at is None or record_id < self.first_record_id:
            self.first_record_id, self.first_seen_at = record_id, created_at


def prune_match_records(
    db: Database, retention: timedelta, *, now: datetime | None = None, batch: int = PRUNE_BATCH
) -> int:
    """Count and delete the prunable records older than ``retention``; returns how many."""
    cutoff = (now or utcnow()) - retention
    boundary = _first_id_not_older_than(db, cutoff)
    after, pruned = 0, 0
    while True:
        with db.session() as session:
            ids = _prunable(session, after, boundary, batch)
            if not ids:
                break
            after = ids[-1]
            pruned += _count_and_delete(session, ids)
    if pruned:
        log.info("pruned %d match records older than %s", pruned, cutoff.isoformat())
    return pruned


def _first_id_not_older_than(db: Database, cutoff: datetime) -> int:
    """The lowest record id made at or after ``cutoff`` (one past the newest id if none).

    Ids grow with time, so a binary search over ids (point lookups on the primary key) finds
    the boundary without an index on ``created_at``, which every insert would pay for."""
    with db.session(readonly=True) as session:
        low = session.scalar(select(func.min(MatchRecord.id))) or 0
        high = (session.scalar(select(func.max(MatchRecord.id))) or 0) + 1
        while low < high:
            middle = (low + high) // 2
            made = session.execute(
                select(MatchRecord.created_at)
                .where(MatchRecord.id >= middle)
                .order_by(MatchRecord.id)
                .limit(1)
            ).scalar()
            if made is not None and _aware(made) < cutoff:
                low = middle + 1
            else:
                high = middle
        return low


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _prunable(session: Session, after: int, boundary: int, batch: int) -> list[int]:
    awaiting_review = exists().where(
        ReviewItem.match_record_id == MatchRecord.id, ReviewItem.status == ReviewStatus.PENDING
    )
    undelivered = exists().where(
        WebhookDelivery.match_record_id == MatchRecord.id,
        WebhookDelivery.status == DeliveryStatus.PENDING,
    )
    query = (
        select(MatchRecord.id)
        .where(
            MatchRecord.id > after,
            MatchRecord.id < boundary,
            MatchRecord.catalog_item_id.is_(None),
            ~awaiting_review,
            ~undelivered,
        )
        .order_by(MatchRecord.id)
        .limit(batch)
    )
    return list(session.scalars(query))


def _count_and_delete(session: Session, ids: list[int]) -> int:
    removed = set(
        session.scalars(
            select(PortalRemoval.match_record_id).where(PortalRemoval.match_record_id.in_(ids))
        )
    )
    deleted = session.execute(
        delete(MatchRecord)
        .where(MatchRecord.id.in_(ids))
        .returning(
            MatchRecord.id,
            MatchRecord.entry_id,
            MatchRecord.bank_id,
            MatchRecord.api_key_id,
            MatchRecord.created_at,
        )
    ).all()
    tallies: dict[_Group, _Tally] = defaultdict(_Tally)
    for record_id, entry_id, bank_id, key_id, created_at in deleted:
        group = _Group(entry_id, bank_id, key_id if key_id is not None else NO_KEY)
        tallies[group].add(record_id, created_at, record_id in removed)
    for group, tally in tallies.items():
        _add_to_rollup(session, group, tally)
    return len(deleted)


def _add_to_rollup(session: Session, group: _Group, tally: _Tally) -> None:
    table = MatchRollup.__table__
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    statement = insert(table).values(  # type: ignore[arg-type]
        entry_id=group.entry_id,
        bank_id=group.bank_id,
        api_key_id=group.api_key_id,
        first_record_id=tally.first_record_id,
        first_seen_at=tally.first_seen_at,
        matches=tally.matches,
        removals=tally.removals,
    )
    new = statement.excluded
    earlier = new.first_record_id < table.c.first_record_id
    update: dict[str, Any] = {
        "matches": table.c.matches + new.matches,
        "removals": table.c.removals + new.removals,
        "first_record_id": case((earlier, new.first_record_id), else_=table.c.first_record_id),
        "first_seen_at": case((earlier, new.first_seen_at), else_=table.c.first_seen_at),
    }
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["entry_id", "bank_id", "api_key_id"], set_=update
        )
    )
