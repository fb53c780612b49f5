"""Reading a bulk-import upload: ``hashwall hash`` JSON lines or ``signal_type,signal_value`` CSV.

Each line becomes an :data:`EntryRow` - plain tuples, no ORM objects - which the bulk writer
(:mod:`hashwall.service.bulk_entries`) stores as it comes. Any bad line is a 422 naming its line
number, so the whole import is refused before anything is written.

Speed: at a million lines the generic path (a :class:`HashRecord` per line, then its rows)
costs ~16 us a line, a third of the import. Plain ``pdq``/``md5``/``sha256`` CSV lines, the bulk
of real hash lists, are checked with one regular expression instead (~1 us); anything else
(quotes, other signal types, a value that does not pass) takes the generic path, which
produces the same rows and the same error messages.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from typing import BinaryIO

from hashwall.hashing.record import BARE_HASH_QUALITY
from hashwall.media.sniff import ContentKind
from hashwall.service.errors import ApiError, printable
from hashwall.service.hash_input import record_from_object, record_from_value
from hashwall.service.records import SignalValues, signal_values

#: One entry to store: (content_type, label, signal rows).
EntryRow = tuple[str, str, list[SignalValues]]

_LABEL_FIELDS = ("label", "id", "content_id", "case", "path")
_READ_BYTES = 1024 * 1024
#: The CSV lines the fast path takes (one regular expression call a line).
_CANONICAL = re.compile(r"(pdq|sha256),([0-9a-f]{64})|(md5),([0-9a-f]{32})")
_PHOTO = str(ContentKind.PHOTO)


def lines(upload: BinaryIO) -> Iterator[tuple[int, str]]:
    """Decode the spooled upload incrementally (UTF-8, BOM allowed), numbering lines from 1."""
    upload.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    number = 0
    try:
        while chunk := upload.read(_READ_BYTES):
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


def detect(upload: BinaryIO) -> str:
    """``jsonl`` or ``csv``, from the first line that is not blank."""
    for _, line in lines(upload):
        if line.strip():
            return "jsonl" if line.lstrip().startswith("{") else "csv"
    raise ApiError(422, "the file is empty", "file")


def file_sha256(upload: BinaryIO) -> str:
    upload.seek(0)
    digest = hashlib.sha256()
    while chunk := upload.read(_READ_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def parse(upload: BinaryIO, kind: str) -> Iterator[tuple[int, EntryRow]]:
    """Every entry of the file with its line number; ApiError(422) at the first bad line."""
    for number, line in lines(upload):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = _jsonl_row(line) if kind == "jsonl" else _csv_row(line, number)
        except ApiError as error:
            raise ApiError(422, f"file line {number}: {error.message}", "file") from None
        if row is not None:
            yield number, row


def _label(data: object) -> str:
    if isinstance(data, dict):
        for key in _LABEL_FIELDS:
            if data.get(key):
                return printable(str(data[key]), 500)
    return ""


def _jsonl_row(line: str) -> EntryRow:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ApiError(422, f"not valid JSON ({error.msg})", "file") from None
    record = record_from_object(data, "record")
    return str(record.content_type), _label(data), signal_values(record)


def _csv_row(line: str, number: int) -> EntryRow | None:
    """One CSV line's entry; None for the header line."""
    fast = _fast_csv_row(line)
    if fast is not None:
        return fast
    row = next(csv.reader([line]))
    if number == 1 and row and row[0].strip().lower() == "signal_type":
        return None
    if len(row) < 2:
        raise ApiError(422, "expected 'signal_type,signal_value'", "file")
    record = record_from_value(row[0], row[1], "signal_value")
    return str(record.content_type), "", signal_values(record)


def _fast_csv_row(line: str) -> EntryRow | None:
    """A canonical ``pdq|md5|sha256,<lower-case hex>`` line as the generic path would store
    it, or None to let the generic path decide (it also words the errors, and accepts what
    this does not: capitals, spaces, ``0x``, quotes, more columns)."""
    found = _CANONICAL.fullmatch(line)
    if found is None:
        return None
    signal_type, value = found.group(1, 2) if found.group(1) else found.group(3, 4)
    quality = BARE_HASH_QUALITY if signal_type == "pdq" else None
    return _PHOTO, "", [(signal_type, "original", value, quality)]
