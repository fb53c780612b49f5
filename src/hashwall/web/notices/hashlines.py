"""The hashes box: ``type,value`` lines (``hashwall hash --format csv``) or pasted
``hashwall hash`` JSON lines, turned into the case file's ``{signal_type, signal_value}`` list.

Each hash remembers the line it came from, so a bad value is reported on that line even when
one JSON line (a photo: PDQ, MD5, SHA-256) gave several hashes. Video records give their MD5
and SHA-256 only: a vPDQ frame list runs to thousands of characters, too long for a notice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hashwall.hashing.record import RecordFormatError, record_from_json
from hashwall.nesting import TooDeep, loads_json
from hashwall.signals.base import InvalidSignalValue

#: Most hashes taken from one form (a case lists a handful).
MAX_HASHES = 200


@dataclass(frozen=True)
class ParsedHashes:
    hashes: list[dict[str, str]]
    lines: list[int]  # the input line of each hash, for messages
    error: str | None


def parse_hashes(text: str) -> ParsedHashes:
    """Every hash in order, duplicates dropped, or the first bad line's problem."""
    hashes: list[dict[str, str]] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pairs = _from_json(line) if line.lstrip().startswith("{") else [_from_csv(line)]
        except ValueError as error:
            return ParsedHashes([], [], f"Line {number}: {error}")
        for signal_type, value in pairs:
            item = {"signal_type": signal_type, "signal_value": value}
            if item not in hashes:
                hashes.append(item)
                lines.append(number)
    if len(hashes) > MAX_HASHES:
        return ParsedHashes([], [], f"At most {MAX_HASHES} hashes, please (found {len(hashes)}).")
    return ParsedHashes(hashes, lines, None)


def _from_csv(line: str) -> tuple[str, str]:
    signal_type, comma, value = line.partition(",")
    if not comma or not signal_type.strip() or not value.strip():
        raise ValueError("write type,value (for example pdq,<64 hex digits>) or paste JSON lines")
    return signal_type.strip(), value.strip()


def _from_json(line: str) -> list[tuple[str, str]]:
    try:
        data = loads_json(line)
    except TooDeep as error:
        raise ValueError(str(error)) from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg})") from None
    if isinstance(data, dict) and "signal_type" in data:
        return [(str(data["signal_type"]), str(data.get("signal_value", "")))]
    try:
        rows = record_from_json(data).csv_rows()
    except (RecordFormatError, InvalidSignalValue, KeyError, TypeError) as error:
        raise ValueError(f"not a 'hashwall hash' line ({error})") from None
    return [(kind, value) for kind, value in rows if value and kind != "vpdq"]
