"""Turn API input (hash values, ``hashwall hash`` records, import lines) into records.

Every problem becomes an :class:`ApiError` naming the field, so bad hashes are a 422 with a
reason, never a 500.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hashwall.hashing.record import (
    HashRecord,
    RecordFormatError,
    record_from_json,
    record_from_signal_value,
)
from hashwall.service.errors import ApiError
from hashwall.service.schemas import SignalIn
from hashwall.signals.base import InvalidSignalValue


def record_from_value(
    signal_type: str, value: str, field: str, quality: int | None = None
) -> HashRecord:
    try:
        record = record_from_signal_value(signal_type.strip().lower(), value)
    except (InvalidSignalValue, RecordFormatError, ValueError) as error:
        raise ApiError(422, str(error), field) from None
    if quality is not None and record.pdq is not None:
        record = dataclasses.replace(record, pdq=dataclasses.replace(record.pdq, quality=quality))
    return record


def record_from_hashes(hashes: Sequence[SignalIn], field: str) -> HashRecord:
    """Merge one value per signal type into one record (they describe the same item)."""
    merged: HashRecord | None = None
    seen: set[str] = set()
    for position, item in enumerate(hashes):
        where = f"{field}.{position}"
        record = record_from_value(
            item.signal_type, item.signal_value, f"{where}.signal_value", item.quality
        )
        name = item.signal_type.strip().lower()
        if name in seen:
            raise ApiError(
                422,
                f"a second {name} value: one value per signal type per item "
                "(send another item for another picture)",
                where,
            )
        seen.add(name)
        merged = record if merged is None else _merge(merged, record)
    if merged is None:
        raise ApiError(422, "at least one hash is required", field)
    return merged


def _merge(a: HashRecord, b: HashRecord) -> HashRecord:
    return dataclasses.replace(
        a,
        content_type=b.content_type if b.vpdq else a.content_type,
        md5=a.md5 or b.md5,
        sha256=a.sha256 or b.sha256,
        pdq=a.pdq or b.pdq,
        vpdq=a.vpdq or b.vpdq,
    )


def record_from_object(data: Any, field: str) -> HashRecord:
    """A record as ``hashwall hash`` writes it, or a ``{signal_type, signal_value}`` object."""
    if isinstance(data, dict) and "signal_type" in data:
        value = data.get("signal_value")
        if not isinstance(value, str):
            raise ApiError(422, "signal_value must be a string", f"{field}.signal_value")
        return record_from_value(str(data["signal_type"]), value, f"{field}.signal_value")
    try:
        record = record_from_json(data)
    except (RecordFormatError, InvalidSignalValue, ValueError, TypeError, AttributeError) as error:
        raise ApiError(422, str(error) or "not a hashwall record", field) from None
    if not (record.pdq or record.vpdq or record.md5 or record.sha256):
        raise ApiError(422, "the record carries no hashes", f"{field}.signals")
    return record
