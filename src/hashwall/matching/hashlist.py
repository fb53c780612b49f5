"""Read a list of known hashes: ``hashwall hash`` JSON lines, or ``signal_type,signal_value`` CSV.

The CSV may also be python-threatexchange's: ``threatexchange dataset -P --csv`` output (its
header names the value ``signal_str``; further columns are kept as metadata) or its
collaboration file (``signal_type signal`` per line). pytx names file digests ``video_md5`` and
``video_sha256``: digests of the file's bytes whatever the medium, hashwall's ``md5`` and
``sha256``. So a list exported for or by pytx (and HMA) is matched offline as it is.

A ban list that silently drops a malformed line would miss content, so any bad line stops the
load with its line number and the problem.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashwall.hashing.record import (
    HashRecord,
    RecordFormatError,
    record_from_json,
    record_from_signal_value,
)
from hashwall.signals.base import InvalidSignalValue

_LABEL_FIELDS = ("id", "label", "case", "content_id", "path")
#: python-threatexchange's names of the file digests (see the module docstring).
_PYTX_NAMES = {"video_md5": "md5", "video_sha256": "sha256"}


class HashListError(ValueError):
    """A hash list that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class HashListEntry:
    line: int
    label: str
    record: HashRecord
    metadata: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"line": self.line, "label": self.label, **self.metadata}


@dataclass(frozen=True)
class HashList:
    source: str
    entries: list[HashListEntry]


def load_hash_list(path: Path) -> HashList:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise HashListError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise HashListError(f"{path}: not a text file (expected JSON lines or CSV)") from None
    except OSError as error:
        raise HashListError(f"{path}: cannot read ({error.strerror or error})") from None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        raise HashListError(f"{path}: the hash list is empty")
    parse = _parse_jsonl if first.startswith("{") else _parse_csv
    return HashList(str(path), parse(path, text))


def _parse_jsonl(path: Path, text: str) -> list[HashListEntry]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            entries.append(_entry_from_json(number, data))
        except json.JSONDecodeError as error:
            raise HashListError(f"{path} line {number}: not valid JSON ({error.msg})") from None
        except (RecordFormatError, InvalidSignalValue, ValueError) as error:
            raise HashListError(f"{path} line {number}: {error}") from None
    return entries


def _entry_from_json(number: int, data: Any) -> HashListEntry:
    if isinstance(data, dict) and "signal_type" in data:
        return _single_signal_entry(
            number, str(data["signal_type"]), data.get("signal_value"), data
        )
    record = record_from_json(data)
    metadata = {k: data[k] for k in _LABEL_FIELDS if k in data and k != "path"}
    return HashListEntry(number, _label(data, number), record, metadata)


def _parse_csv(path: Path, text: str) -> list[HashListEntry]:
    entries = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if number == 1 and row[0].strip().lower() == "signal_type":
            continue
        if len(row) == 1 and len(row[0].split()) == 2:  # pytx's "signal_type signal" line
            row = row[0].split()
        if len(row) < 2:
            raise HashListError(f"{path} line {number}: expected 'signal_type,signal_value'")
        extra = {f"column{i}": value for i, value in enumerate(row[2:], start=3) if value}
        try:
            entries.append(_single_signal_entry(number, row[0], row[1], extra))
        except (InvalidSignalValue, ValueError) as error:
            raise HashListError(f"{path} line {number}: {error}") from None
    return entries


def _single_signal_entry(
    number: int, signal_type: str, value: Any, data: dict[str, Any]
) -> HashListEntry:
    name = signal_type.strip().lower()
    record = record_from_signal_value(_PYTX_NAMES.get(name, name), value)
    metadata = {k: data[k] for k in _LABEL_FIELDS if k in data and k != "path"}
    return HashListEntry(number, _label(data, number), record, metadata)


def _label(data: Any, number: int) -> str:
    if isinstance(data, dict):
        for key in _LABEL_FIELDS:
            if data.get(key):
                return str(data[key])
    return f"line {number}"
