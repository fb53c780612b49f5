"""The case's audit chain, held in memory: the survivor uploads ``CASE.audit.jsonl``, the page
verifies it with ``hashwall.cases.audit`` and appends what happens, and the survivor downloads
it again. The same format ``JsonlAuditStore`` writes, without ever touching the server's disk.

Lines already in the chain are kept byte for byte: re-serialising them could "repair" an edit,
and the whole point of the chain is that edits stay visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hashwall.cases.audit import (
    AuditEntry,
    AuditFormatError,
    Item,
    Verification,
    canonical_json,
    make_entry,
    verify,
)
from hashwall.nesting import loads_json

#: Largest audit log accepted (about 5,000 entries).
MAX_AUDIT_BYTES = 2 * 1024 * 1024
ACTOR = "requester"  # as ``hashwall notice`` writes it


class ChainError(ValueError):
    """An audit log that cannot be read or added to; the message says why."""


@dataclass(frozen=True)
class Chain:
    lines: tuple[str, ...]
    verification: Verification

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)

    @property
    def last(self) -> AuditEntry | None:
        """The entry to chain onto, or None for a new chain; refuses a torn last line."""
        if not self.lines:
            return None
        item = _item(len(self.lines), self.lines[-1])
        if isinstance(item, AuditFormatError):
            raise ChainError(f"The audit log's last entry is unreadable, none can follow: {item}")
        return item


def _item(number: int, line: str) -> Item:
    if not line.strip():
        return AuditFormatError(f"line {number} is blank")
    try:
        return AuditEntry.from_json(loads_json(line))
    except (ValueError, AuditFormatError) as error:
        return AuditFormatError(f"line {number} is not an audit entry: {error}")


def parse_chain(data: bytes) -> Chain:
    """Split and verify; a broken chain is still returned (tampering is evidence too)."""
    if len(data) > MAX_AUDIT_BYTES:
        raise ChainError(f"The audit log is larger than {MAX_AUDIT_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ChainError("The audit log is not UTF-8 text (one JSON entry per line).") from None
    lines = tuple(text.splitlines())
    if lines and not lines[-1].strip():  # a trailing newline is not an entry
        lines = lines[:-1]
    items = [_item(number, line) for number, line in enumerate(lines, start=1)]
    return Chain(lines, verify(items))


def append(
    chain: Chain, now: datetime, action: str, case_id: str, data: Mapping[str, Any]
) -> Chain:
    """The chain with one more ``requester`` entry, verified again."""
    entry = make_entry(chain.last, at=now, actor=ACTOR, action=action, case_id=case_id, data=data)
    lines = (*chain.lines, canonical_json(entry.to_json()).decode("utf-8"))
    return parse_chain("\n".join(lines).encode("utf-8"))


EMPTY = Chain((), verify([]))
