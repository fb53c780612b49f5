"""Bulk import of ``hashwall hash`` JSON lines or ``signal_type,signal_value`` CSV into a bank.

Atomicity: the job row and every entry are written in **one transaction**, and the change that
makes workers index them is part of it. A server killed mid-import therefore leaves nothing
(the client retries with the same idempotency key), and a finished import is never repeated:
``(bank, idempotency_key)`` is unique, so a retry answers with the existing job. Without an
explicit key the SHA-256 of the file is the key, so re-sending the same file is harmless.

Speed (issue 19): the file is read twice. The first pass only validates (a bad line is a 422
before any database work); the second writes rows in bulk (:mod:`hashwall.service.bulk_entries`:
ids allocated in bulk, ``executemany`` on SQLite, ``COPY`` on PostgreSQL). Parsing again costs
~1 us a CSV line, and keeps the write transaction - on SQLite, the database's write lock, which
every other writer waits for - as short as the writing itself.

After the commit the import is the truth and the answer says so: indexing in this worker
and the retroactive sweep are attempted, but neither can turn a committed import into an
error. The change row makes every worker index the entries in any case, and the sweep job
stays ``pending`` until it is done: for large imports (over :data:`SWEEP_INLINE_MAX` entries)
it is handed to the worker's background sweep thread at once, and any failed sweep is retried
by it (``actions.background``). ``ImportOut.sweep`` tells the client which happened.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hashwall.service.after_commit import (
    BULK_TABLES,
    SweepOutcome,
    refresh_statistics,
    sweep_committed,
    sweep_status,
)
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.bulk_entries import DEFAULT_CHUNK, EntryDefaults, write_entries
from hashwall.service.errors import ApiError
from hashwall.service.import_parse import detect, file_sha256
from hashwall.service.import_parse import parse as _parse
from hashwall.service.live_index import gc_paused
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.schemas import ImportOut
from hashwall.service.state import ServiceState, get_state
from hashwall.service.sweep import new_job
from hashwall.store import Bank, Change, ChangeKind, ImportJob
from hashwall.store.catalog_models import SweepJob, SweepKind, SweepStatus
from hashwall.store.models import utcnow

log = logging.getLogger("hashwall.service.imports")
router = APIRouter(tags=["entries"])
State = Annotated[ServiceState, Depends(get_state)]
#: Entries per bulk statement (a test shrinks it to see a crash between statements).
_FLUSH_EVERY = DEFAULT_CHUNK
#: Imports up to this many entries are swept before the answer; larger ones in the background.
SWEEP_INLINE_MAX = 10_000


def _job_out(job: ImportJob, created: bool, sweep: SweepOutcome) -> ImportOut:
    return ImportOut(
        id=job.id,
        bank_id=job.bank_id,
        idempotency_key=job.idempotency_key,
        status=job.status.value,
        format=job.format,
        entry_count=job.entry_count,
        created=created,
        created_at=job.created_at,
        sweep=sweep,
    )


def _existing(state: ServiceState, bank_id: int, key: str) -> ImportOut | None:
    """The answer for a key already imported (with its sweep's current state), or None."""
    with state.db.session(readonly=True) as session:
        job = session.scalars(
            select(ImportJob).where(ImportJob.bank_id == bank_id, ImportJob.idempotency_key == key)
        ).first()
        if job is None:
            return None
        pending = session.scalar(
            select(SweepJob.id).where(
                SweepJob.kind == SweepKind.IMPORT,
                SweepJob.target_id == job.id,
                SweepJob.status == SweepStatus.PENDING,
            )
        )
        return _job_out(job, created=False, sweep="pending" if pending else "done")


def _check_form(state: ServiceState, file: UploadFile, values: dict[str, str]) -> None:
    if file.size is not None and file.size > state.settings.max_upload_bytes:
        raise ApiError(
            413, f"the file is larger than {state.settings.max_upload_bytes} bytes", "file"
        )
    for name, value in values.items():
        if any(ord(c) < 32 for c in value):
            raise ApiError(422, "must not contain control characters", name)


def _validate(file: UploadFile, kind: str) -> int:
    """First pass: every line is checked (422 at the first bad one); returns the entries."""
    with gc_paused():
        count = sum(1 for _ in _parse(file.file, kind))
    if count == 0:
        raise ApiError(422, "the file has no entries", "file")
    return count


def _store(
    state: ServiceState, file: UploadFile, kind: str, key: str, defaults: EntryDefaults
) -> tuple[ImportJob, int]:
    """Second pass: the job, its entries, its change and its sweep job, in one transaction
    (on SQLite holding the write lock from its start: ids are allocated under it)."""
    with state.db.session(immediate=True) as session:
        job = ImportJob(bank_id=defaults.bank_id, idempotency_key=key, format=kind, entry_count=0)
        session.add(job)
        session.flush()
        rows = (row for _number, row in _parse(file.file, kind))
        job.entry_count = write_entries(
            session,
            rows,
            EntryDefaults(
                defaults.bank_id, job.id, defaults.source, defaults.case_ref, defaults.now
            ),
            chunk=_FLUSH_EVERY,
        )
        session.add(Change(kind=ChangeKind.IMPORT, target_id=job.id))
        # Committed with the import: a crash before the sweep ends is finished at start.
        sweep = new_job(session, SweepKind.IMPORT, job.id, None)
        session.flush()
        return job, sweep.id


def _after_commit(state: ServiceState, job: ImportJob, sweep_id: int) -> SweepOutcome:
    """Index the committed import here and sweep it, never failing: it is stored."""
    state.publish(ChangeKind.IMPORT, job.id)  # never raises (the change tailer catches up)
    refresh_statistics(state.db, BULK_TABLES, job.entry_count)
    if job.entry_count > SWEEP_INLINE_MAX:
        if state.sweep_soon is not None:
            state.sweep_soon(sweep_id)
        return "pending"
    return sweep_status(sweep_committed(state, sweep_id))


@router.post("/v1/banks/{bank_id}/imports", status_code=201, response_model=ImportOut)
def import_entries(
    bank_id: Id,
    state: State,
    _: Annotated[Principal, require(Permission.ENTRIES_WRITE)],
    file: Annotated[UploadFile, File(description="`hashwall hash` JSONL or pytx CSV.")],
    format: Annotated[Literal["auto", "jsonl", "csv"], Form()] = "auto",
    idempotency_key: Annotated[
        str | None,
        Form(max_length=200, description="Retry-safe key; default: the file's SHA-256."),
    ] = None,
    source: Annotated[str, Form(max_length=500)] = "",
    case_ref: Annotated[str, Form(max_length=200)] = "",
) -> ImportOut:
    """Import a hash list as one entry per line, all or nothing."""
    form = {"idempotency_key": idempotency_key or "", "source": source, "case_ref": case_ref}
    _check_form(state, file, form)
    kind = detect(file.file) if format == "auto" else format
    key = idempotency_key or f"sha256:{file_sha256(file.file)}"
    with state.db.session(readonly=True) as session:
        load_or_404(session, Bank, bank_id, "bank")
    found = _existing(state, bank_id, key)
    if found is not None:
        return found
    _validate(file, kind)
    defaults = EntryDefaults(bank_id, None, source, case_ref, utcnow())
    try:
        job, sweep_id = _store(state, file, kind, key, defaults)
    except IntegrityError:
        # The same key was imported concurrently: that import won, ours rolled back.
        found = _existing(state, bank_id, key)
        if found is None:
            raise
        return found
    return _job_out(job, created=True, sweep=_after_commit(state, job, sweep_id))
