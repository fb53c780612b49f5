"""Apply items from an outside source to a bank, in the caller's transaction.

Every exchange (bundle, StopNCII page, pytx file) reduces to a list of :class:`RemoteItem`:
the source's own id for the item, its state and its hashes. An id seen before is looked up in
``exchange_links`` and its entry updated (a withdrawal or deletion appends a change row, the
same path ``POST /v1/entries/{id}/withdraw`` takes, so every worker stops matching it); a new id
becomes an entry of one import job, so workers load the batch with a single change row and the
retroactive sweep covers it. New entries are written by the file imports' bulk writer
(:mod:`hashwall.service.bulk_entries`), not as ORM objects. ``deleted`` is terminal, as in the
entries API, and a locally quarantined entry stays held for review even when the source still
calls it active.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from hashwall.hashing.record import HashRecord
from hashwall.service.bulk_entries import BulkRow, EntryDefaults, EntryFields, write_entries
from hashwall.service.records import signal_values
from hashwall.service.sweep import new_job
from hashwall.store import Change, ChangeKind, Entry, EntryState, ImportJob
from hashwall.store.catalog_models import SweepKind
from hashwall.store.exchange_models import ExchangeLink, ExchangeSource
from hashwall.store.models import utcnow

_CHUNK = 500
_FLUSH_EVERY = 1000


@dataclass(frozen=True)
class RemoteItem:
    remote_id: str
    state: EntryState
    #: ``None`` when the source sends no hashes (a deleted item).
    record: HashRecord | None
    label: str = ""
    source: str = ""
    case_ref: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApplyResult:
    """What one application did; ``changed_entry_ids`` are entries whose state moved."""

    status: str = "applied"  # or "already_applied" (a bundle not newer than the last one)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    job_id: int | None = None
    sweep_id: int | None = None
    changed_entry_ids: list[int] = field(default_factory=list)

    def merge(self, other: ApplyResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "import_job_id": self.job_id,
        }


def source_row(session: Session, bank_id: int, origin: str) -> ExchangeSource:
    """The checkpoint row of ``origin`` for this bank, locked for the transaction."""
    query = select(ExchangeSource).where(
        ExchangeSource.bank_id == bank_id, ExchangeSource.origin == origin
    )
    row = session.scalars(query.with_for_update()).first()
    if row is None:
        row = ExchangeSource(bank_id=bank_id, origin=origin, sequence=0, checkpoint={})
        session.add(row)
        session.flush()
    return row


def _links(session: Session, bank_id: int, origin: str, ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            select(ExchangeLink.remote_id, ExchangeLink.entry_id).where(
                ExchangeLink.bank_id == bank_id,
                ExchangeLink.origin == origin,
                ExchangeLink.remote_id.in_(chunk),
            )
        )
        found.update({row.remote_id: row.entry_id for row in rows})
    return found


def _entries(session: Session, ids: list[int]) -> dict[int, Entry]:
    found: dict[int, Entry] = {}
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(Entry)
            .options(selectinload(Entry.signals))
            .where(Entry.id.in_(ids[start : start + _CHUNK]))
        )
        found.update({entry.id: entry for entry in session.scalars(query)})
    return found


def _update(entry: Entry, item: RemoteItem) -> bool:
    """Bring an existing entry in line with the source; True when its state changed."""
    texts = (("label", item.label), ("source", item.source), ("case_ref", item.case_ref))
    for name, value in texts:
        if value and getattr(entry, name) != value:
            setattr(entry, name, value)
    if item.metadata and entry.meta != item.metadata:
        entry.meta = dict(item.metadata)
    if entry.state is EntryState.DELETED or item.state is entry.state:
        return False
    if entry.state is EntryState.QUARANTINED and item.state is EntryState.ACTIVE:
        return False  # a local review decision outranks the source's "still active"
    entry.state = item.state
    if item.state is EntryState.DELETED:
        entry.signals.clear()  # deleted means the hashes are gone, not just hidden
    return True


def apply_items(
    session: Session,
    bank_id: int,
    origin: str,
    items: Iterable[RemoteItem],
    *,
    job_format: str,
) -> ApplyResult:
    """Create, update, withdraw or delete entries of ``bank_id`` from ``items`` (last one wins
    for a repeated id). Nothing is committed here: the caller's transaction holds it all."""
    latest = {item.remote_id: item for item in items}
    result = ApplyResult()
    links = _links(session, bank_id, origin, list(latest))
    existing = _entries(session, sorted(set(links.values())))
    fresh: list[tuple[str, RemoteItem]] = []
    for remote_id, item in latest.items():
        entry = existing.get(links.get(remote_id, 0))
        if entry is not None:
            if _update(entry, item):
                session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
                result.changed_entry_ids.append(entry.id)
                result.updated += 1
            else:
                result.unchanged += 1
            continue
        if item.record is None or item.state not in (EntryState.ACTIVE, EntryState.QUARANTINED):
            result.skipped += 1  # never seen and not matchable: nothing to stop or to add
            continue
        fresh.append((remote_id, item))
    session.flush()
    if fresh:
        job = _store_fresh(session, bank_id, origin, fresh, job_format)
        session.add(Change(kind=ChangeKind.IMPORT, target_id=job.id))
        sweep = new_job(session, SweepKind.IMPORT, job.id, None)
        session.flush()
        result.job_id, result.sweep_id = job.id, sweep.id
    result.created = len(fresh)
    return result


def _store_fresh(
    session: Session,
    bank_id: int,
    origin: str,
    fresh: list[tuple[str, RemoteItem]],
    job_format: str,
) -> ImportJob:
    """New items as entries of one import job, written by the bulk writer (as file imports
    are), each linked to its remote id."""
    key = f"exchange:{job_format}:{uuid.uuid4()}"
    job = ImportJob(bank_id=bank_id, idempotency_key=key, format=job_format[:16])
    job.entry_count = len(fresh)
    session.add(job)
    session.flush()  # on SQLite this write takes the write lock before ids are allocated
    ids: list[int] = []
    write_entries(
        session,
        (_bulk_row(item) for _remote_id, item in fresh),
        EntryDefaults(bank_id, job.id, "", "", utcnow()),
        ids=ids,
    )
    links = [
        {"bank_id": bank_id, "origin": origin, "remote_id": remote_id, "entry_id": entry_id}
        for (remote_id, _item), entry_id in zip(fresh, ids, strict=True)
    ]
    for start in range(0, len(links), _FLUSH_EVERY):
        session.execute(insert(ExchangeLink), links[start : start + _FLUSH_EVERY])
    return job


def _bulk_row(item: RemoteItem) -> BulkRow:
    assert item.record is not None
    fields = EntryFields(item.state, item.source, item.case_ref, dict(item.metadata))
    return str(item.record.content_type), item.label, signal_values(item.record), fields
