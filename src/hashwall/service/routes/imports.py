"""Bulk import of ``hashwall hash`` JSON lines or ``signal_type,signal_value`` CSV into a bank.

Atomicity: the job row and every entry are written in **one transaction**, and the change that
makes workers index them is part of it. A server killed mid-import therefore leaves nothing
(the client retries with the same idempotency key), and a finished import is never repeated:
``(bank, idempotency_key)`` is unique, so a retry answers with the existing job. Without an
explicit key the SHA-256 of the file is the key, so re-sending the same file is harmless.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hashwall.hashing.record import HashRecord
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.errors import ApiError, printable
from hashwall.service.hash_input import record_from_object, record_from_value
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.routes.entries import new_entry
from hashwall.service.schemas import ImportOut
from hashwall.service.state import ServiceState, get_state
from hashwall.service.sweep import new_job, run_job
from hashwall.store import Bank, Change, ChangeKind, ImportJob
from hashwall.store.catalog_models import SweepKind

router = APIRouter(tags=["entries"])
State = Annotated[ServiceState, Depends(get_state)]
_FLUSH_EVERY = 1000
_LABEL_FIELDS = ("label", "id", "content_id", "case", "path")


def _lines(upload: UploadFile) -> Iterator[tuple[int, str]]:
    """Decode the spooled upload incrementally (UTF-8, BOM allowed), numbering lines from 1."""
    upload.file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    number = 0
    try:
        while chunk := upload.file.read(1024 * 1024):
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                number += 1
                yield number, line.rstrip("\r")
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ApiError(422, f"line {number + 1}: not UTF-8 text", "file") from None
    if pending:
        yield number + 1, pending.rstrip("\r")


def _label(data: object) -> str:
    if isinstance(data, dict):
        for key in _LABEL_FIELDS:
            if data.get(key):
                return printable(str(data[key]), 500)
    return ""


def _parse(upload: UploadFile, kind: str) -> Iterator[tuple[int, HashRecord, str]]:
    for number, line in _lines(upload):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"file line {number}"
        try:
            if kind == "jsonl":
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ApiError(422, f"not valid JSON ({error.msg})", "file") from None
                yield number, record_from_object(data, "record"), _label(data)
            else:
                row = next(csv.reader([line]))
                if number == 1 and row and row[0].strip().lower() == "signal_type":
                    continue
                if len(row) < 2:
                    raise ApiError(422, "expected 'signal_type,signal_value'", "file")
                yield number, record_from_value(row[0], row[1], "signal_value"), ""
        except ApiError as error:
            raise ApiError(422, f"{where}: {error.message}", "file") from None


def _detect(upload: UploadFile) -> str:
    for _, line in _lines(upload):
        if line.strip():
            return "jsonl" if line.lstrip().startswith("{") else "csv"
    raise ApiError(422, "the file is empty", "file")


def _file_sha256(upload: UploadFile) -> str:
    upload.file.seek(0)
    digest = hashlib.sha256()
    while chunk := upload.file.read(1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def _job_out(job: ImportJob, created: bool) -> ImportOut:
    return ImportOut(
        id=job.id,
        bank_id=job.bank_id,
        idempotency_key=job.idempotency_key,
        status=job.status.value,
        format=job.format,
        entry_count=job.entry_count,
        created=created,
        created_at=job.created_at,
    )


def _existing(state: ServiceState, bank_id: int, key: str) -> ImportJob | None:
    with state.db.session() as session:
        return session.scalars(
            select(ImportJob).where(ImportJob.bank_id == bank_id, ImportJob.idempotency_key == key)
        ).first()


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
    if file.size is not None and file.size > state.settings.max_upload_bytes:
        raise ApiError(
            413, f"the file is larger than {state.settings.max_upload_bytes} bytes", "file"
        )
    for name, value in (
        ("idempotency_key", idempotency_key or ""),
        ("source", source),
        ("case_ref", case_ref),
    ):
        if any(ord(c) < 32 for c in value):
            raise ApiError(422, "must not contain control characters", name)
    kind = _detect(file) if format == "auto" else format
    key = idempotency_key or f"sha256:{_file_sha256(file)}"
    with state.db.session() as session:
        load_or_404(session, Bank, bank_id, "bank")
    found = _existing(state, bank_id, key)
    if found is not None:
        return _job_out(found, created=False)
    try:
        with state.db.session() as session:
            job = ImportJob(bank_id=bank_id, idempotency_key=key, format=kind, entry_count=0)
            session.add(job)
            session.flush()
            count = 0
            for _number, record, label in _parse(file, kind):
                session.add(
                    new_entry(
                        bank_id,
                        record,
                        label=label,
                        source=source,
                        case_ref=case_ref,
                        import_job_id=job.id,
                    )
                )
                count += 1
                if count % _FLUSH_EVERY == 0:
                    session.flush()
            if count == 0:
                raise ApiError(422, "the file has no entries", "file")
            job.entry_count = count
            session.add(Change(kind=ChangeKind.IMPORT, target_id=job.id))
            # Committed with the import: a crash before the sweep ends is finished at start.
            sweep = new_job(session, SweepKind.IMPORT, job.id, None)
            session.flush()
    except IntegrityError:
        # The same key was imported concurrently: that import won, ours rolled back.
        found = _existing(state, bank_id, key)
        if found is None:
            raise
        return _job_out(found, created=False)
    state.publish(ChangeKind.IMPORT, job.id)
    run_job(state, sweep.id)
    return _job_out(job, created=True)
