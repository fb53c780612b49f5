"""The tamper-evident audit chain: append-only entries, each carrying the SHA-256 of the
previous entry, so any edit, deletion, insertion or reordering shows up in :func:`verify`.

Format (version 1). An entry is a JSON object with exactly these keys::

    seq        integer, 1 for the first entry, +1 for each next one
    at         UTC time, "YYYY-MM-DDTHH:MM:SS.ffffffZ"
    case_id    string or null
    actor      string (who: "reviewer:42", "system", "requester")
    action     string ("case.received", "case.actioned", "notice.sent", ...)
    data       JSON object (no floats: their text form is not portable)
    prev_hash  hex SHA-256 of the previous entry ("0" * 64 for seq 1)
    hash       hex SHA-256 of this entry's canonical JSON *without* the "hash" key

Canonical JSON: keys sorted, UTF-8 (no ``\\u`` escapes for non-ASCII), no whitespace
(separators ``,`` and ``:``), no NaN/Infinity. ``prev_hash`` therefore is the SHA-256 of the
previous entry's canonical JSON. Why it works: changing any byte of entry *n* changes its hash,
which no longer matches its stored ``hash`` - or, if the attacker rewrote that too, no longer
matches entry *n+1*'s ``prev_hash``. What a chain alone cannot show is a rewrite of the whole
tail or a cut-off tail; record the head (``seq`` and ``hash``, see :meth:`AuditStore.head`)
somewhere else - an evidence pack, a ticket, an email - and pass it to :func:`verify`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hashwall.cases.clock import Clock, SystemClock, require_aware

GENESIS_HASH = "0" * 64
ENTRY_KEYS = ("action", "actor", "at", "case_id", "data", "hash", "prev_hash", "seq")
MAX_TEXT = 200


class AuditFormatError(ValueError):
    """Input that cannot become an audit entry (floats, bad types); nothing is written."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, UTF-8, no whitespace; floats are refused (see the module docstring)."""
    _reject_floats(value, "data")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _reject_floats(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, float):
        raise AuditFormatError(f"{path}: floats are not allowed in audit data (use a string)")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_floats(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditFormatError(f"{path}: keys must be strings")
            _reject_floats(item, f"{path}.{key}")
        return
    raise AuditFormatError(f"{path}: {type(value).__name__} is not JSON")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_time(moment: datetime) -> str:
    return require_aware(moment, "audit time").astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    case_id: str | None
    actor: str
    action: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """Everything the entry's hash covers."""
        return {
            "seq": self.seq,
            "at": self.at,
            "case_id": self.case_id,
            "actor": self.actor,
            "action": self.action,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    def computed_hash(self) -> str:
        return sha256_hex(canonical_json(self.body()))

    @classmethod
    def from_json(cls, raw: Any) -> AuditEntry:
        """Shape check only; whether the entry is *genuine* is :func:`verify`'s job."""
        if not isinstance(raw, dict):
            raise AuditFormatError("entry is not a JSON object")
        keys = set(raw)
        if keys != set(ENTRY_KEYS):
            extra, missing = sorted(keys - set(ENTRY_KEYS)), sorted(set(ENTRY_KEYS) - keys)
            raise AuditFormatError(f"entry keys differ (missing {missing}, unexpected {extra})")
        checks: list[tuple[str, type | tuple[type, ...]]] = [
            ("at", str),
            ("actor", str),
            ("action", str),
            ("data", dict),
            ("prev_hash", str),
            ("hash", str),
        ]
        for key, kind in checks:
            if not isinstance(raw[key], kind):
                raise AuditFormatError(f"{key} has the wrong type")
        if not isinstance(raw["seq"], int) or isinstance(raw["seq"], bool):
            raise AuditFormatError("seq is not an integer")
        if raw["case_id"] is not None and not isinstance(raw["case_id"], str):
            raise AuditFormatError("case_id is neither a string nor null")
        return cls(**{key: raw[key] for key in ENTRY_KEYS})


def make_entry(
    previous: AuditEntry | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    case_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """The entry that follows ``previous``; validates input so a bad call writes nothing."""
    for name, text in (("actor", actor), ("action", action), ("case_id", case_id or "x")):
        if not text or not text.strip() or len(text) > MAX_TEXT:
            raise AuditFormatError(f"{name} must be 1-{MAX_TEXT} characters")
    payload = dict(data or {})
    canonical_json(payload)  # floats, non-JSON values: refuse before anything is written
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    draft = AuditEntry(seq, format_time(at), case_id, actor, action, payload, prev_hash, "")
    return AuditEntry(**{**draft.body(), "hash": draft.computed_hash()})


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError(f"head {text!r} is not SEQ:SHA256HEX (as 'audit verify' prints)")
        return cls(int(seq), digest.lower())


@dataclass(frozen=True)
class Problem:
    position: int  # 0-based place in storage order
    seq: int | None  # the seq the bad entry claims, when readable
    reason: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "unreadable"
        return f"entry #{self.position + 1} ({where}): {self.reason}"


@dataclass(frozen=True)
class Verification:
    entries: int
    head: ChainHead | None
    problem: Problem | None

    @property
    def intact(self) -> bool:
        return self.problem is None


#: What a storage backend yields in order: an entry, or why the stored item is not one.
Item = AuditEntry | AuditFormatError


def verify(items: Iterable[Item], expected_head: ChainHead | None = None) -> Verification:
    """Check the chain in storage order and name the first bad entry.

    An entry is bad when it is unreadable, its ``seq`` is not one more than the one before
    (deletion, insertion, reordering), its ``prev_hash`` is not the previous entry's hash, or
    its ``hash`` does not match its content (edit). ``expected_head``, recorded earlier, also
    catches a cut-off tail and a rewrite of the whole chain after it."""
    previous: AuditEntry | None = None
    count = 0
    for position, item in enumerate(items):
        count += 1
        if isinstance(item, AuditFormatError):
            return Verification(count, _head(previous), Problem(position, None, str(item)))
        problem = _check(item, previous, position)
        if problem is not None:
            return Verification(count, _head(previous), problem)
        previous = item
    head = _head(previous)
    if expected_head is not None:
        problem = _check_head(previous, expected_head, count)
        if problem is not None:
            return Verification(count, head, problem)
    return Verification(count, head, None)


def _check(entry: AuditEntry, previous: AuditEntry | None, position: int) -> Problem | None:
    expected_seq = 1 if previous is None else previous.seq + 1
    if entry.seq != expected_seq:
        return Problem(
            position,
            entry.seq,
            f"seq is {entry.seq}, expected {expected_seq} (entry deleted, inserted or moved)",
        )
    expected_prev = GENESIS_HASH if previous is None else previous.hash
    if entry.prev_hash != expected_prev:
        return Problem(position, entry.seq, "prev_hash does not match the previous entry's hash")
    try:
        computed = entry.computed_hash()
    except (AuditFormatError, ValueError) as error:
        return Problem(position, entry.seq, f"content is not canonical JSON: {error}")
    if computed != entry.hash:
        return Problem(position, entry.seq, "hash does not match the entry's content (edited)")
    return None


def _check_head(last: AuditEntry | None, expected: ChainHead, count: int) -> Problem | None:
    if last is None or last.seq < expected.seq:
        have = 0 if last is None else last.seq
        return Problem(
            count,
            have + 1,
            f"missing: chain ends at seq {have}, the recorded head is {expected.seq}",
        )
    return None


def _head(entry: AuditEntry | None) -> ChainHead | None:
    return None if entry is None else ChainHead(entry.seq, entry.hash)


def verify_head_in(entries: Iterable[AuditEntry], expected: ChainHead) -> Problem | None:
    """Whether the recorded head is still in the chain, unchanged (else: rewritten)."""
    for position, entry in enumerate(entries):
        if entry.seq == expected.seq:
            if entry.hash != expected.hash:
                return Problem(position, entry.seq, "differs from the recorded head (rewritten)")
            return None
    return Problem(0, expected.seq, "recorded head not found in the chain")


class AuditStore(Protocol):
    """A place entries are appended to and read back from, in order."""

    def append(
        self,
        *,
        actor: str,
        action: str,
        case_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> AuditEntry: ...

    def items(self) -> Iterator[Item]: ...

    def entries_for_case(self, case_id: str) -> list[AuditEntry]: ...


def check(store: AuditStore, expected_head: ChainHead | None = None) -> Verification:
    """:func:`verify` plus, with a recorded head, that the head entry was not rewritten."""
    result = verify(store.items(), expected_head)
    if result.intact and expected_head is not None:
        entries = [item for item in store.items() if isinstance(item, AuditEntry)]
        problem = verify_head_in(entries, expected_head)
        if problem is not None:
            return Verification(result.entries, result.head, problem)
    return result


class JsonlAuditStore:
    """One canonical-JSON entry per line. Appends hold an exclusive ``flock`` on the file and
    are fsynced, so two processes never write the same ``seq`` and a crash loses at most the
    entry being written (a torn last line shows up in :func:`verify`)."""

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self.clock = clock or SystemClock()

    def append(
        self,
        *,
        actor: str,
        action: str,
        case_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                previous = self._last_entry(handle)
                entry = make_entry(
                    previous,
                    at=self.clock.now(),
                    actor=actor,
                    action=action,
                    case_id=case_id,
                    data=data,
                )
                handle.seek(0, os.SEEK_END)
                handle.write(canonical_json(entry.to_json()) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return entry

    def _last_entry(self, handle: Any) -> AuditEntry | None:
        handle.seek(0)
        last: bytes | None = None
        for line in handle:
            if line.strip():
                last = line
        if last is None:
            return None
        try:
            return AuditEntry.from_json(json.loads(last))
        except (ValueError, AuditFormatError) as error:
            raise AuditFormatError(
                f"{self.path}: last entry is unreadable, refusing to append ({error})"
            ) from None

    def items(self) -> Iterator[Item]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    yield AuditFormatError(f"line {number} is blank")
                    continue
                try:
                    yield AuditEntry.from_json(json.loads(line))
                except (ValueError, AuditFormatError) as error:
                    yield AuditFormatError(f"line {number} is not an audit entry: {error}")

    def entries_for_case(self, case_id: str) -> list[AuditEntry]:
        return [e for e in self.items() if isinstance(e, AuditEntry) and e.case_id == case_id]

    def head(self) -> ChainHead | None:
        last = None
        for item in self.items():
            if isinstance(item, AuditEntry):
                last = item
        return _head(last)
