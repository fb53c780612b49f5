"""Signed, versioned, checksummed JSON-lines bundles for air-gapped sharing between instances.

Layout, one JSON object per line::

    {"format": "hashwall-exchange", "version": 1, "origin": UUID, "sequence": N, "bank": {...}}
    {"id": "17", "state": "active", "content_type": "photo", "signals": [...], ...}   (per entry)
    {"end": {"entries": COUNT, "sha256": HEX, "hmac_sha256": HEX}}

The checksum and the HMAC cover every byte before the end line. A truncated file has no end
line, a corrupted one fails the checksum, an edited one (checksum recomputed) fails the HMAC:
each is refused before anything is written. ``origin`` is the exporting bank's stable id and
``sequence`` grows with every export of it, so the receiver applies a bundle only when it is
newer than the last one it applied from that origin: re-importing is a no-op, and because every
bundle is a full snapshot (withdrawn and deleted entries included) a later one carries the
withdrawals and deletions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hashwall.hashing.record import HashRecord
from hashwall.service.errors import ApiError
from hashwall.service.exchange.apply import ApplyResult, RemoteItem, apply_items, source_row
from hashwall.service.records import frames_from_json, record_from_signals
from hashwall.signals.base import InvalidSignalValue
from hashwall.signals.registry import get_signal
from hashwall.store import Bank, Database, Entry, EntryState
from hashwall.store.exchange_models import ExchangeOrigin

FORMAT = "hashwall-exchange"
VERSION = 1
_PAGE = 1000
_SIGNALS = ("pdq", "vpdq", "md5", "sha256")


def _line(obj: dict[str, Any]) -> bytes:
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


def _next_sequence(session: Session, bank_id: int) -> tuple[str, int]:
    row = session.scalars(
        select(ExchangeOrigin).where(ExchangeOrigin.bank_id == bank_id).with_for_update()
    ).first()
    if row is None:
        row = ExchangeOrigin(bank_id=bank_id, origin=str(uuid.uuid4()), sequence=0)
        session.add(row)
    row.sequence += 1
    session.flush()
    return row.origin, row.sequence


def bank_origin(session: Session, bank_id: int) -> str | None:
    return session.scalar(select(ExchangeOrigin.origin).where(ExchangeOrigin.bank_id == bank_id))


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "state": entry.state.value,
        "content_type": entry.content_type,
        "label": entry.label,
        "source": entry.source,
        "case_ref": entry.case_ref,
        "metadata": entry.meta,
        "signals": [
            {"type": s.signal_type, "variant": s.variant, "value": s.value, "quality": s.quality}
            for s in entry.signals
        ],
    }


@dataclass(frozen=True)
class ExportInfo:
    origin: str
    sequence: int
    entries: int


def export_bundle(db: Database, bank_id: int, key: bytes, out: IO[bytes]) -> ExportInfo:
    """Write the bank as a bundle; the sequence is taken in the snapshot's own transaction."""
    for attempt in range(2):
        try:
            return _export(db, bank_id, key, out)
        except IntegrityError:  # two first exports of one bank raced for its origin row
            if attempt:
                raise
            out.seek(0)
            out.truncate()
    raise AssertionError("unreachable")


def _export(db: Database, bank_id: int, key: bytes, out: IO[bytes]) -> ExportInfo:
    digest, signature = hashlib.sha256(), hmac.new(key, digestmod=hashlib.sha256)

    def write(data: bytes) -> None:
        digest.update(data)
        signature.update(data)
        out.write(data)

    with db.session() as session:
        bank = session.get(Bank, bank_id)
        if bank is None:
            raise ApiError(404, f"no bank with id {bank_id}", "bank_id")
        origin, sequence = _next_sequence(session, bank_id)
        write(
            _line(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "origin": origin,
                    "sequence": sequence,
                    "exported_at": datetime.now(UTC).isoformat(),
                    "bank": {
                        "name": bank.name,
                        "description": bank.description,
                        "negative": bank.negative,
                    },
                }
            )
        )
        count, after = 0, 0
        while True:
            page = list(
                session.scalars(
                    select(Entry)
                    .options(selectinload(Entry.signals))
                    .where(Entry.bank_id == bank_id, Entry.id > after)
                    .order_by(Entry.id)
                    .limit(_PAGE)
                )
            )
            for entry in page:
                write(_line(_entry_json(entry)))
            count += len(page)
            if len(page) < _PAGE:
                break
            after = page[-1].id
            session.expunge_all()
    end = {"entries": count, "sha256": digest.hexdigest(), "hmac_sha256": signature.hexdigest()}
    out.write(_line({"end": end}))
    return ExportInfo(origin, sequence, count)


@dataclass
class Bundle:
    origin: str
    sequence: int
    bank: dict[str, Any]
    items: list[RemoteItem]


def _refuse(message: str) -> ApiError:
    return ApiError(422, f"bundle refused: {message}; nothing was imported", "file")


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def verify_bundle(path: Path, key: bytes) -> None:
    """Check the end line's checksum and signature over every byte before it."""
    digest, signature = hashlib.sha256(), hmac.new(key, digestmod=hashlib.sha256)
    previous: bytes | None = None
    lines = 0
    for line in _lines(path):
        if previous is not None:
            digest.update(previous)
            signature.update(previous)
        previous = line
        lines += 1
    if previous is None:
        raise _refuse("the file is empty")
    try:
        end = json.loads(previous)["end"]
        expected_sha, expected_mac = str(end["sha256"]), str(end["hmac_sha256"])
        entries = int(end["entries"])
    except (ValueError, KeyError, TypeError):
        raise _refuse("no end line (the file is truncated or not a hashwall bundle)") from None
    if not hmac.compare_digest(digest.hexdigest(), expected_sha):
        raise _refuse("checksum mismatch (the file is corrupt or was altered)")
    if not hmac.compare_digest(signature.hexdigest(), expected_mac):
        raise _refuse(
            "signature mismatch (the file was altered, or signed with a different exchange key)"
        )
    if entries != lines - 2:
        raise _refuse(f"the end line counts {entries} entries but the file has {lines - 2}")


def _record(number: int, data: dict[str, Any]) -> HashRecord | None:
    rows: list[tuple[str, str, str, int | None]] = []
    for signal in data.get("signals") or []:
        kind, value = str(signal["type"]), str(signal["value"])
        if kind not in _SIGNALS:
            raise _refuse(f"line {number}: unknown signal type {kind!r}")
        if kind != "vpdq":
            value = get_signal(kind).validate(value)
        else:
            for frame in frames_from_json(value):
                get_signal("pdq").validate(frame.hash)
        quality = signal.get("quality")
        rows.append((kind, str(signal.get("variant") or "original"), value, quality))
    if not rows:
        return None
    return record_from_signals(str(data.get("content_type") or "photo"), rows)


def read_bundle(path: Path, key: bytes) -> Bundle:
    """Verify, then parse every entry; any problem refuses the whole bundle."""
    verify_bundle(path, key)
    lines = list(_lines(path))
    try:
        header = json.loads(lines[0])
    except ValueError:
        raise _refuse("line 1 is not JSON") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _refuse("not a hashwall exchange bundle")
    if header.get("version") != VERSION:
        raise _refuse(f"version {header.get('version')!r} is not supported (this reads {VERSION})")
    items: list[RemoteItem] = []
    for number, raw in enumerate(lines[1:-1], start=2):
        try:
            data = json.loads(raw)
            state = EntryState(str(data["state"]))
            items.append(
                RemoteItem(
                    remote_id=str(data["id"])[:200],
                    state=state,
                    record=_record(number, data),
                    label=str(data.get("label") or "")[:500],
                    source=str(data.get("source") or "")[:500],
                    case_ref=str(data.get("case_ref") or "")[:200],
                    metadata=dict(data.get("metadata") or {}),
                )
            )
        except ApiError:
            raise
        except (ValueError, KeyError, TypeError, InvalidSignalValue) as error:
            raise _refuse(f"line {number}: {error}") from None
    try:
        origin, sequence = str(uuid.UUID(str(header["origin"]))), int(header["sequence"])
    except (KeyError, ValueError, TypeError):
        raise _refuse("the header lacks a valid origin and sequence") from None
    return Bundle(origin, sequence, dict(header.get("bank") or {}), items)


def apply_bundle(db: Database, bank_id: int, bundle: Bundle) -> ApplyResult:
    """Apply a verified bundle in one transaction, unless one as new was applied already."""
    with db.session() as session:
        if session.get(Bank, bank_id) is None:
            raise ApiError(404, f"no bank with id {bank_id}", "bank_id")
        if bank_origin(session, bank_id) == bundle.origin:
            raise ApiError(409, "this bundle was exported from this very bank", "file")
        source = source_row(session, bank_id, f"bundle:{bundle.origin}")
        if bundle.sequence <= source.sequence:
            return ApplyResult(status="already_applied", unchanged=len(bundle.items))
        result = apply_items(
            session, bank_id, f"bundle:{bundle.origin}", bundle.items, job_format="bundle"
        )
        source.sequence = bundle.sequence
        source.checkpoint = {"sequence": bundle.sequence}
    return result
