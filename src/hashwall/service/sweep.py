"""Retroactive sweep: link bank entries and catalog items that match, whichever came first.

The rule is the match API's, by construction: a catalog item matches an entry when
``POST /v1/match/hashes`` with the item's full record (every rotation/flip, with and without
bars) would report that entry. A new catalog item is therefore simply matched against the
live index; a new entry first asks the :class:`~hashwall.service.catalog_index.CatalogIndex`
for candidate items near its stored hashes, then matches each candidate the same way and
keeps the hits on the new entry. Per-bank thresholds, disabled banks, negative-bank
suppression and vPDQ percentages thus agree in both directions, and the result does not
depend on which of the two arrived first.

Every sweep is a ``sweep_jobs`` row committed with the data it sweeps; :func:`run_job` marks
it done in the transaction that stores its match records, and :func:`run_pending` finishes
jobs left by a crash at start-up. Match records are inserted with ON CONFLICT DO NOTHING on
``(entry_id, catalog_item_id)``, so re-running any job never duplicates a record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hashwall.service.actions.dispatch import on_new_records
from hashwall.service.bank_match import Hit, Thresholds, match_record
from hashwall.service.catalog_index import SignalTuple, record_from_catalog
from hashwall.signals import pdq as pdq_signal
from hashwall.store import ChangeKind, Entry, EntrySignal, EntryState, MatchRecord
from hashwall.store.catalog_models import (
    CatalogItem,
    CatalogSignal,
    CatalogState,
    SweepJob,
    SweepKind,
    SweepStatus,
)
from hashwall.store.models import utcnow

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service.sweep")
_CHUNK = 500
_BASE_VARIANTS = ("original", "borderless")


@dataclass(frozen=True)
class SweepResult:
    job_id: int
    checked: int  # entries or catalog items swept
    new_matches: int
    record_ids: list[int]


@dataclass(frozen=True)
class _Pair:
    item_id: int
    content_id: str
    hit: Hit


def _item_rows(
    session: Session, item_ids: Sequence[int]
) -> dict[int, tuple[str, str, list[SignalTuple]]]:
    """Active items' (content_id, content_type, signal rows)."""
    items: dict[int, tuple[str, str, list[SignalTuple]]] = {}
    for item in session.execute(
        select(CatalogItem.id, CatalogItem.content_id, CatalogItem.content_type).where(
            CatalogItem.id.in_(item_ids), CatalogItem.state == CatalogState.ACTIVE
        )
    ):
        items[item.id] = (item.content_id, item.content_type, [])
    for row in session.execute(
        select(
            CatalogSignal.item_id,
            CatalogSignal.signal_type,
            CatalogSignal.variant,
            CatalogSignal.value,
            CatalogSignal.quality,
        )
        .where(CatalogSignal.item_id.in_(list(items)))
        .order_by(CatalogSignal.id)
    ):
        items[row.item_id][2].append((row.signal_type, row.variant, row.value, row.quality))
    return items


def _match_items(
    state: ServiceState, session: Session, item_ids: Sequence[int], entry_ids: set[int] | None
) -> tuple[list[_Pair], dict[int, str]]:
    """Match catalog items against the live index (optionally keeping only some entries)."""
    pairs: list[_Pair] = []
    signals: dict[int, str] = {}
    for start in range(0, len(item_ids), _CHUNK):
        for item_id, (content_id, content_type, rows) in _item_rows(
            session, item_ids[start : start + _CHUNK]
        ).items():
            outcome = match_record(
                state.index, record_from_catalog(content_type, rows), Thresholds()
            )
            hits = [h for h in outcome.matches if entry_ids is None or h.entry_id in entry_ids]
            if hits:
                base = [list(r) for r in rows if r[0] != "pdq" or r[1] in _BASE_VARIANTS]
                signals[item_id] = json.dumps(base, separators=(",", ":"))
            pairs.extend(_Pair(item_id, content_id, hit) for hit in hits)
    return pairs, signals


def _active_entry_signals() -> Select[int, str, str, str, int | None]:
    """Signal rows of active entries, as :data:`SignalTuple` with the entry id first."""
    return (
        select(
            EntrySignal.entry_id,
            EntrySignal.signal_type,
            EntrySignal.variant,
            EntrySignal.value,
            EntrySignal.quality,
        )
        .join(Entry, Entry.id == EntrySignal.entry_id)
        .where(Entry.state == EntryState.ACTIVE)
    )


def _entry_candidates(state: ServiceState, session: Session, entry_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(entry_ids), _CHUNK):
        chunk = entry_ids[start : start + _CHUNK]
        stored: dict[int, list[SignalTuple]] = {}
        for row in session.execute(_active_entry_signals().where(EntrySignal.entry_id.in_(chunk))):
            stored.setdefault(row.entry_id, []).append(
                (row.signal_type, row.variant, row.value, row.quality)
            )
        for rows in stored.values():
            found |= state.catalog.candidates(rows, pdq_signal.DISTANCE_THRESHOLD)
    return found


def _import_candidates(
    state: ServiceState, session: Session, job_id: int
) -> tuple[list[int], set[int]]:
    """An import's active entries and the catalog items near them, read by one join on the
    job (not ``IN`` lists of a million ids), streamed in entry order."""
    query = (
        _active_entry_signals()
        .where(Entry.import_job_id == job_id)
        .order_by(EntrySignal.entry_id, EntrySignal.id)
    )
    entries: list[int] = []
    found: set[int] = set()
    rows: list[SignalTuple] = []
    streamed = session.connection().execution_options(yield_per=_CHUNK * 20)
    for row in streamed.execute(query):
        if entries and entries[-1] != row.entry_id and rows:
            found |= state.catalog.candidates(rows, pdq_signal.DISTANCE_THRESHOLD)
            rows = []
        if not entries or entries[-1] != row.entry_id:
            entries.append(row.entry_id)
        rows.append((row.signal_type, row.variant, row.value, row.quality))
    if rows:
        found |= state.catalog.candidates(rows, pdq_signal.DISTANCE_THRESHOLD)
    return entries, found


def _sweep_import(
    state: ServiceState, session: Session, job: SweepJob
) -> tuple[int, list[_Pair], dict[int, str]]:
    """(entries checked, pairs, signals) of an import job. With no active catalog item
    nothing can match, so the entries are only counted (a million-entry import against an
    empty catalog costs one COUNT, not a candidate lookup per entry)."""
    if len(state.catalog) == 0:
        query = select(func.count(Entry.id)).where(
            Entry.import_job_id == job.target_id, Entry.state == EntryState.ACTIVE
        )
        return int(session.scalar(query) or 0), [], {}
    entries, candidates = _import_candidates(state, session, job.target_id)
    pairs, signals = _match_items(state, session, sorted(candidates), set(entries))
    return len(entries), pairs, signals


def _job_entries(session: Session, job: SweepJob) -> list[int]:
    if job.kind is SweepKind.ENTRY:
        return [job.target_id]
    column = Entry.import_job_id if job.kind is SweepKind.IMPORT else Entry.bank_id
    query = select(Entry.id).where(column == job.target_id, Entry.state == EntryState.ACTIVE)
    return list(session.scalars(query.order_by(Entry.id)))


def _job_items(session: Session, job: SweepJob) -> list[int]:
    if job.kind is SweepKind.CATALOG:
        return [job.target_id]
    query = select(CatalogItem.id).where(CatalogItem.import_id == job.target_id)
    return list(session.scalars(query.order_by(CatalogItem.id)))


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    table = MatchRecord.__table__  # a Table: ON CONFLICT needs Core
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    ids: list[int] = []
    for start in range(0, len(rows), _CHUNK):
        statement = (
            insert(table)  # type: ignore[arg-type]
            .values(rows[start : start + _CHUNK])
            .on_conflict_do_nothing(index_elements=["entry_id", "catalog_item_id"])
            .returning(table.c.id)
        )
        ids.extend(int(i) for i in session.scalars(statement))
    return ids


def _record_row(job: SweepJob, pair: _Pair) -> dict[str, Any]:
    hit = pair.hit
    details: dict[str, Any] = {
        "sweep_job": job.id,
        "stored_variant": hit.stored_variant,
        "entry_source": hit.bank.source_label,
    }
    if hit.query_match_percent is not None:
        details["query_match_percent"] = hit.query_match_percent
        details["compared_match_percent"] = hit.compared_match_percent
    return {
        "request_id": f"sweep-{job.id}",
        "api_key_id": job.api_key_id,
        "query_kind": "catalog",
        "query_label": pair.content_id[:500],
        "bank_id": hit.bank.id,
        "entry_id": hit.entry_id,
        "signal_type": hit.signal,
        "distance": hit.distance,
        "query_variant": hit.query_variant,
        "details": details,
        "catalog_item_id": pair.item_id,
        "query_key": f"catalog:{pair.item_id}",
        "created_at": utcnow(),
    }


def run_job(state: ServiceState, job_id: int) -> SweepResult:
    """Sweep one job (idempotent: a finished job is not redone, records never duplicate)."""
    with state.db.session(readonly=True) as session:
        job = session.get(SweepJob, job_id)
        if job is None:
            raise LookupError(f"no sweep job {job_id}")
        if job.status is SweepStatus.DONE:
            return SweepResult(job.id, 0, job.new_matches, [])
        if job.kind in (SweepKind.CATALOG, SweepKind.CATALOG_IMPORT):
            items = _job_items(session, job)
            checked = len(items)
            pairs, signals = _match_items(state, session, items, None)
        elif job.kind is SweepKind.IMPORT:
            checked, pairs, signals = _sweep_import(state, session, job)
        else:
            entries = _job_entries(session, job)
            checked = len(entries)
            candidates = sorted(_entry_candidates(state, session, entries))
            pairs, signals = _match_items(state, session, candidates, set(entries))
    with state.db.session() as session:
        job = session.get(SweepJob, job_id)
        assert job is not None
        ids = _insert_ignoring_duplicates(session, [_record_row(job, p) for p in pairs])
        records = list(
            session.scalars(
                select(MatchRecord).where(MatchRecord.id.in_(ids)).order_by(MatchRecord.id)
            )
        )
        by_record = {r.id: signals.get(r.catalog_item_id or 0, "[]") for r in records}
        quarantined = on_new_records(state, session, records, by_record)
        if job.status is SweepStatus.PENDING:
            job.status = SweepStatus.DONE
            job.new_matches = len(ids)
            job.finished_at = utcnow()
    for entry_id in quarantined:
        state.publish(ChangeKind.ENTRY, entry_id, removed=True)
    if ids:
        state.actions_enqueued()
    return SweepResult(job_id, checked, len(ids), ids)


def new_job(session: Session, kind: SweepKind, target_id: int, api_key_id: int | None) -> SweepJob:
    """Add a pending job to the caller's transaction (commit it with what it sweeps)."""
    job = SweepJob(kind=kind, target_id=target_id, api_key_id=api_key_id)
    session.add(job)
    return job


def run_pending(state: ServiceState, *, older_than: timedelta | None = None) -> int:
    """Finish pending jobs (left by a crash, a restart or a failed sweep); returns how many ran.

    ``older_than`` skips jobs younger than that: a running worker retries only jobs whose own
    request has clearly given up, instead of racing the request that is sweeping them now."""
    query = select(SweepJob.id).where(SweepJob.status == SweepStatus.PENDING)
    if older_than is not None:
        query = query.where(SweepJob.created_at < utcnow() - older_than)
    with state.db.session(readonly=True) as session:
        pending = list(session.scalars(query.order_by(SweepJob.id)))
    for job_id in pending:
        result = run_job(state, job_id)
        log.info("finished pending sweep job %d: %d new matches", job_id, result.new_matches)
    return len(pending)
