"""Banks as python-threatexchange files: export for its CLI and import from it.

Two formats, both written so pytx's own code reads them:

* ``pytx`` - the file collaboration format (``threatexchange config collab`` with the
  ``local_file`` API): one ``signal_type signal`` line per hash, parsed on import by pytx's
  :class:`LocalFileSignalExchangeAPI` itself.
* ``pytx-csv`` - the columns of ``threatexchange dataset -P --csv`` (``signal_type, signal_str,
  collab, category, tags``) followed by hashwall's own columns (``hashwall_entry, label, source,
  case_ref, metadata``) so an entry's metadata survives the round trip. HMA-style
  ``signal_type,signal_value`` CSV imports too.

Only active entries are exported. pytx names file digests ``video_md5``/``video_sha256``
(they are digests of the file's bytes whatever the medium) and has no text form for vPDQ with
borderless frames, so vPDQ signals are counted as skipped. Re-importing a hash already linked
from this source changes nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from threatexchange.exchanges.fetch_state import SignalOpinionCategory
from threatexchange.exchanges.impl.file_api import (
    FileCollaborationConfig,
    LocalFileSignalExchangeAPI,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal
from threatexchange.signal_type.signal_base import SignalType

from hashwall.hashing.record import HashRecord
from hashwall.media.sniff import ContentKind
from hashwall.service.errors import ApiError, printable
from hashwall.service.exchange.apply import ApplyResult, RemoteItem, apply_items
from hashwall.service.hash_input import record_from_value
from hashwall.service.records import record_from_signals
from hashwall.store import Bank, Database, Entry, EntryState

ORIGIN = "pytx"
FORMATS = ("pytx", "pytx-csv")
CSV_COLUMNS = ["signal_type", "signal_str", "collab", "category", "tags"]
HASHWALL_COLUMNS = ["hashwall_entry", "label", "source", "case_ref", "metadata"]
#: hashwall signal -> pytx SignalType, and back (pytx names first, hashwall names accepted).
TO_PYTX: dict[str, type[SignalType]] = {
    "pdq": PdqSignal,
    "md5": VideoMD5Signal,
    "sha256": VideoSHA256Signal,
}
FROM_PYTX: dict[str, tuple[str, type[SignalType]]] = {
    **{cls.get_name(): (ours, cls) for ours, cls in TO_PYTX.items()},
    **{ours: (ours, cls) for ours, cls in TO_PYTX.items()},
}
_PAGE = 1000


@dataclass(frozen=True)
class PytxExport:
    signals: int
    entries: int
    skipped_vpdq: int


def _active_entries(db: Database, bank_id: int) -> Iterator[tuple[Bank, Entry]]:
    with db.session() as session:
        bank = session.get(Bank, bank_id)
        if bank is None:
            raise ApiError(404, f"no bank with id {bank_id}", "bank_id")
        after = 0
        while True:
            page = list(
                session.scalars(
                    select(Entry)
                    .options(selectinload(Entry.signals))
                    .where(
                        Entry.bank_id == bank_id,
                        Entry.state == EntryState.ACTIVE,
                        Entry.id > after,
                    )
                    .order_by(Entry.id)
                    .limit(_PAGE)
                )
            )
            for entry in page:
                yield bank, entry
            if len(page) < _PAGE:
                return
            after = page[-1].id


def _tags(entry: Entry) -> str:
    tags = entry.meta.get("tags") if isinstance(entry.meta, dict) else None
    if isinstance(tags, list):
        return " ".join(str(t).replace(" ", "_") for t in tags if str(t).strip())
    return ""


def export_pytx(db: Database, bank_id: int, fmt: str, out: IO[str]) -> PytxExport:
    """Write the bank's active entries in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ApiError(422, f"format must be one of {', '.join(FORMATS)}", "format")
    writer = None
    if fmt == "pytx-csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS + HASHWALL_COLUMNS)
    signals = entries = skipped = 0
    for bank, entry in _active_entries(db, bank_id):
        entries += 1
        seen: set[tuple[str, str]] = set()
        for signal in entry.signals:
            if signal.signal_type not in TO_PYTX:
                skipped += 1
                continue
            name = TO_PYTX[signal.signal_type].get_name()
            if (name, signal.value) in seen:
                continue
            seen.add((name, signal.value))
            signals += 1
            if writer is None:
                out.write(f"{name} {signal.value}\n")
                continue
            category = (
                SignalOpinionCategory.NEGATIVE_CLASS
                if bank.negative
                else SignalOpinionCategory.POSITIVE_CLASS
            )
            meta = json.dumps(entry.meta, separators=(",", ":"), sort_keys=True)
            pytx_row = [name, signal.value, bank.name, category.name, _tags(entry)]
            # one row per signal: hashwall_entry groups them back into one entry
            writer.writerow([*pytx_row, entry.id, entry.label, entry.source, entry.case_ref, meta])
    return PytxExport(signals, entries, skipped)


def _value(name: str, value: str, where: str) -> tuple[str, str]:
    """Validate with pytx's signal class, then hashwall's; returns (hashwall type, value)."""
    found = FROM_PYTX.get(name.strip().lower())
    if found is None:
        supported = ", ".join(sorted(FROM_PYTX))
        raise ApiError(422, f"{where}: unsupported signal type {name!r} ({supported})", "file")
    ours, cls = found
    try:
        canonical = cls.validate_signal_str(value.strip()).lower()
    except Exception as error:  # pytx raises ValueError or its own exceptions
        raise ApiError(422, f"{where}: invalid {name} value ({error})", "file") from None
    record_from_value(ours, canonical, "file")  # hashwall's own check (422 on failure)
    return ours, canonical


def detect(path: Path) -> str:
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip():
                return "pytx-csv" if line.lstrip().lower().startswith("signal_type,") else "pytx"
    raise ApiError(422, "the file is empty", "file")


def _single(ours: str, value: str) -> HashRecord:
    record = record_from_value(ours, value, "file")
    return record


def read_local_file(path: Path) -> list[RemoteItem]:
    """Parse with pytx's LocalFileSignalExchangeAPI, as ``threatexchange fetch`` would."""
    collab = FileCollaborationConfig(name="hashwall import", filename=str(path))
    api = LocalFileSignalExchangeAPI(collab)
    items: list[RemoteItem] = []
    try:
        for delta in api.fetch_iter([], None):
            for (name, raw), _meta in delta.updates.items():
                ours, value = _value(name, raw, f"signal {name} {raw[:80]!r}")
                items.append(RemoteItem(f"{ours}:{value}", EntryState.ACTIVE, _single(ours, value)))
    except UnicodeDecodeError:
        raise ApiError(422, "the file is not UTF-8 text", "file") from None
    return items


def _metadata(text: str, where: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(422, f"{where}: metadata is not JSON ({error.msg})", "file") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"{where}: metadata must be a JSON object", "file")
    return data


def read_csv(path: Path) -> list[RemoteItem]:
    """``dataset --csv`` rows (grouped into entries by ``hashwall_entry`` when present)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    extras: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = set(reader.fieldnames or [])
        value_column = "signal_str" if "signal_str" in fields else "signal_value"
        if "signal_type" not in fields or value_column not in fields:
            message = "expected a signal_type,signal_str (or signal_value) header"
            raise ApiError(422, message, "file")
        try:
            for number, row in enumerate(reader, start=2):
                where = f"file line {number}"
                name, raw = row.get("signal_type") or "", row.get(value_column) or ""
                ours, value = _value(name, raw, where)
                group = (row.get("hashwall_entry") or "").strip() or f"{ours}:{value}"
                groups.setdefault(group, []).append((ours, value))
                extras.setdefault(
                    group,
                    {
                        "label": printable(row.get("label") or "", 500),
                        "source": printable(row.get("source") or "", 500),
                        "case_ref": printable(row.get("case_ref") or "", 200),
                        "metadata": _metadata(row.get("metadata") or "", where),
                    },
                )
        except UnicodeDecodeError:
            raise ApiError(422, "the file is not UTF-8 text", "file") from None
        except csv.Error as error:
            raise ApiError(422, f"not valid CSV ({error})", "file") from None
    items = []
    for group, values in groups.items():
        rows: list[tuple[str, str, str, int | None]] = []
        pdq_seen = 0
        for ours, value in values:
            variant = "borderless" if ours == "pdq" and pdq_seen else "original"
            pdq_seen += ours == "pdq"
            rows.append((ours, variant, value, 100 if ours == "pdq" else None))
        first = f"{values[0][0]}:{values[0][1]}"
        kind = ContentKind.PHOTO if pdq_seen else ContentKind.VIDEO
        record = record_from_signals(str(kind), rows)
        items.append(RemoteItem(first, EntryState.ACTIVE, record, **extras[group]))
    return items


def import_pytx(db: Database, bank_id: int, path: Path, fmt: str = "auto") -> ApplyResult:
    """Import a pytx file into the bank, all or nothing."""
    fmt = detect(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ApiError(422, f"format must be one of auto, {', '.join(FORMATS)}", "format")
    items = read_local_file(path) if fmt == "pytx" else read_csv(path)
    if not items:
        raise ApiError(422, "the file has no signals", "file")
    with db.session() as session:
        if session.get(Bank, bank_id) is None:
            raise ApiError(404, f"no bank with id {bank_id}", "bank_id")
        return apply_items(session, bank_id, ORIGIN, items, job_format=fmt)
