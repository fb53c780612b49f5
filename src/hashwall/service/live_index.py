"""The in-memory index of every active entry, kept in step with the database.

The same class holds the platform catalog's active items (``LiveIndex(CATALOG)``, used by
:mod:`hashwall.service.catalog_index`): an item plays the entry's part, without a bank.

Two layers:

* the **base**, built once at start: numpy columns, not objects (10M entries as Python
  objects cost ~25 % of start-up and gigabytes). Sorted entry ids with their bank and an
  ``alive`` flag; PDQ signal rows (sorted row ids, owning entry, variant code); md5/sha256
  digests as sorted fixed-width bytes with their owners. Lookups are binary searches.
* the **overlay**: entries added after start (their own request or the change-log tailer),
  in small dictionaries as before.

Entries then *converge*: :meth:`LiveIndex.sync_entries` re-reads the entries' current state
and adds or removes them. Removing a base entry clears its ``alive`` flag (it stops matching
at once) and removes its PDQ rows from the Hamming index; a base entry that becomes active
again is re-added through the overlay (its base flag stays cleared, so it is found once).
Because syncing is idempotent and reads the committed state in a transaction begun under
one lock, the order in which a worker learns about changes cannot leave a withdrawn entry
matchable.

Searches never take the lock: the Hamming index is safe for concurrent readers, base arrays
are never resized or replaced (only ``alive`` elements are set, and the base is swapped in as
one reference), and the dictionaries are only changed key by key while readers look up
single keys.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import CompoundSelect, Select, select
from sqlalchemy.orm import Session

from hashwall.index import HammingIndex, VideoFrameIndex
from hashwall.service.index_bulk import Additions, joined
from hashwall.service.index_scan import (
    DIGESTS,
    ENTRIES,
    FIXED_BYTES,
    IndexSource,
    SignalChunk,
    SignalRow,
    active_owners,
    import_owners,
    signal_chunks,
    snapshot_connection,
    video_rows,
)
from hashwall.service.records import frames_from_json
from hashwall.signals import pdq as pdq_signal
from hashwall.signals import vpdq
from hashwall.signals.hexcodec import hex_to_bytes_array
from hashwall.signals.vpdq import VpdqFrame
from hashwall.store import Bank, Database

log = logging.getLogger("hashwall.service")

_SYNC_CHUNK = 500
#: New signal rows of one sync from which they are appended to the base, not the overlay.
BULK_MIN = 20_000
#: ``entry_source`` of entries a curator (or an exchange the operator set up) added.
CURATED = "curated"

Int64Array = npt.NDArray[np.int64]
IntArray = npt.NDArray[np.signedinteger[Any]]
UInt8Array = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class BankInfo:
    id: int
    name: str
    enabled: bool
    negative: bool
    pdq_threshold: int
    action: str | None
    #: ``portal``/``takedown`` for banks the public fills (``None``: curated), and the
    #: operator's opt-in to automatic actions for them (docs/security.md).
    entry_source: str | None = None
    public_actions: bool = False

    @classmethod
    def of(cls, bank: Bank) -> BankInfo:
        return cls(
            bank.id,
            bank.name,
            bank.enabled,
            bank.negative,
            bank.pdq_threshold,
            bank.action,
            bank.entry_source,
            bool(bank.public_actions),
        )

    @property
    def review_only(self) -> bool:
        """Anyone could have added these entries: a match asks for human review, never for
        automatic action (no webhooks, and ``matched`` stays false), unless opted in."""
        return self.entry_source is not None and not self.public_actions

    @property
    def source_label(self) -> str:
        """Where the bank's entries came from, as match answers and records say it."""
        return self.entry_source or CURATED


@dataclass(slots=True)
class IndexedEntry:
    """An entry of the overlay (indexed after start)."""

    entry_id: int
    bank_id: int
    pdq_rows: list[int] = field(default_factory=list)
    digests: list[tuple[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------------- the base


def _find(sorted_values: Int64Array, value: int) -> int:
    """Position of ``value`` in a sorted array, or -1."""
    i = int(sorted_values.searchsorted(value))
    if i < len(sorted_values) and sorted_values[i] == value:
        return i
    return -1


def _find_many(sorted_values: Int64Array, values: Int64Array) -> Int64Array:
    """Position of each value in a sorted array, -1 where absent."""
    if not len(sorted_values):
        return np.full(len(values), -1, np.int64)
    pos = np.minimum(sorted_values.searchsorted(values), len(sorted_values) - 1)
    return np.where(sorted_values[pos] == values, pos, -1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class _Digests:
    """One digest kind of the base: sorted fixed-width values, owner (base position) each."""

    values: npt.NDArray[np.bytes_]
    owners: IntArray


@dataclass(frozen=True, eq=False)
class _Base:
    """Entries indexed at start, as columns (see the module docstring).

    Owners are positions in ``entry_ids`` (not ids), so a lookup needs no second search.
    ``pdq_by_owner`` orders the PDQ columns by owner, for finding an entry's rows; it is None
    when they are in owner order already (signals are written after their entries, so
    usually they are). Nothing here changes after it is published except ``alive`` elements.
    """

    entry_ids: Int64Array
    bank_ids: Int64Array
    alive: npt.NDArray[np.bool_]
    pdq_rows: Int64Array
    pdq_owners: IntArray
    pdq_variants: npt.NDArray[np.int32]
    pdq_by_owner: IntArray | None
    variant_names: tuple[str, ...]
    digests: dict[str, _Digests]

    @classmethod
    def empty(cls) -> _Base:
        ids = np.zeros(0, np.int64)
        return cls(ids, ids, np.zeros(0, bool), ids, ids, np.zeros(0, np.int32), None, (), {})

    def position(self, entry_id: int) -> int:
        """Where a live base entry is, or -1."""
        pos = _find(self.entry_ids, entry_id)
        return pos if pos >= 0 and self.alive[pos] else -1

    def to_sections(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """(metadata, arrays) for a start-up snapshot; ``alive`` is copied (it changes)."""
        sections: dict[str, npt.NDArray[Any]] = {
            "entry_ids": self.entry_ids,
            "bank_ids": self.bank_ids,
            "alive": self.alive.astype(np.uint8),
            "pdq_rows": self.pdq_rows,
            "pdq_owners": self.pdq_owners,
            "pdq_variants": self.pdq_variants,
        }
        if self.pdq_by_owner is not None:
            sections["pdq_by_owner"] = self.pdq_by_owner
        for kind, column in self.digests.items():
            width = column.values.dtype.itemsize
            sections[f"{kind}_values"] = column.values.view(np.uint8).reshape(-1, width)
            sections[f"{kind}_owners"] = column.owners
        meta = {"variant_names": list(self.variant_names), "digests": list(self.digests)}
        return meta, sections

    @classmethod
    def from_sections(cls, meta: dict[str, Any], s: dict[str, npt.NDArray[Any]]) -> _Base:
        """The base :meth:`to_sections` described (arrays used in place, ``alive`` copied).
        ValueError when the arrays do not fit together: a search would then read past
        them or name the wrong entry, so the caller loads from the database instead."""
        entry_ids, pdq_rows, owners = s["entry_ids"], s["pdq_rows"], s["pdq_owners"]
        n, rows = len(entry_ids), len(pdq_rows)
        variant_names = tuple(str(name) for name in meta["variant_names"])
        by_owner = s.get("pdq_by_owner")
        fits = (
            len(s["bank_ids"]) == n == len(s["alive"])
            and len(owners) == rows == len(s["pdq_variants"])
            and (by_owner is None or (len(by_owner) == rows and _indexes_within(by_owner, rows)))
            and _sorted_within(entry_ids, n)
            and _sorted_within(pdq_rows, rows)
            and _indexes_within(owners, n)
            and _indexes_within(s["pdq_variants"], len(variant_names))
        )
        digests: dict[str, _Digests] = {}
        for kind in meta["digests"]:
            raw, digest_owners = s[f"{kind}_values"], s[f"{kind}_owners"]
            width = FIXED_BYTES[kind]
            if raw.shape != (len(digest_owners), width) or not _indexes_within(digest_owners, n):
                fits = False
                break
            values = np.ascontiguousarray(raw).view(f"S{width}").reshape(len(raw))
            digests[kind] = _Digests(values, digest_owners)
        if not fits:
            raise ValueError("the snapshot's columns do not fit together")
        alive = s["alive"].astype(bool)
        return cls(
            entry_ids, s["bank_ids"], alive, pdq_rows, owners, s["pdq_variants"], by_owner,
            variant_names, digests,
        )  # fmt: skip

    def extended(self, add: Additions) -> _Base:
        """A new base holding this one plus ``add``'s owners (none of them in this base).

        Positions move only when a new id sorts before an old one (PostgreSQL may hand an
        import ids below those of entries committed before it); owners are then remapped.
        Costs a copy of every column: for bulk imports, not for single entries."""
        new_ids, new_banks = add.owner_columns()
        old_count = len(self.entry_ids)
        entry_ids = np.concatenate([self.entry_ids, new_ids])
        bank_ids = np.concatenate([self.bank_ids, new_banks])
        alive = np.concatenate([self.alive, np.ones(len(new_ids), bool)])
        moved: Int64Array | None = None
        if old_count and len(new_ids) and new_ids[0] <= self.entry_ids[-1]:
            order = np.argsort(entry_ids, kind="stable")
            moved = np.empty(len(order), np.int64)
            moved[order] = np.arange(len(order))
            entry_ids, bank_ids, alive = entry_ids[order], bank_ids[order], alive[order]
        owner_type = np.int32 if len(entry_ids) < 2**31 else np.int64

        def owners_of(old: IntArray, new_owner_ids: Int64Array) -> IntArray:
            new = old_count + np.searchsorted(new_ids, new_owner_ids)
            both = np.concatenate([old.astype(np.int64), new])
            return (both if moved is None else moved[both]).astype(owner_type)

        rows, row_owner_ids, row_variants, _hashes = add.pdq_columns()
        names = list(self.variant_names)
        codes = {name: i for i, name in enumerate(names)}
        for name in dict.fromkeys(row_variants):
            codes.setdefault(name, len(names))
            if len(names) < len(codes):
                names.append(name)
        new_codes = np.fromiter((codes[v] for v in row_variants), np.int32, len(row_variants))
        pdq_rows = np.concatenate([self.pdq_rows, rows])
        pdq_owners = owners_of(self.pdq_owners, row_owner_ids)
        pdq_variants = np.concatenate([self.pdq_variants, new_codes])
        if not _sorted_within(pdq_rows, len(pdq_rows)):
            order = np.argsort(pdq_rows, kind="stable")
            pdq_rows, pdq_owners, pdq_variants = (
                pdq_rows[order],
                pdq_owners[order],
                pdq_variants[order],
            )
        in_owner_order = len(pdq_owners) < 2 or bool(np.all(pdq_owners[1:] >= pdq_owners[:-1]))
        digests: dict[str, _Digests] = {}
        for kind in DIGESTS:
            new_owner_ids, raw = add.digest_columns(kind)
            width = FIXED_BYTES[kind]
            old = self.digests.get(kind)
            old_values = old.values if old is not None else np.zeros(0, f"S{width}")
            old_owners = old.owners if old is not None else np.zeros(0, np.int64)
            values = np.concatenate(
                [old_values, np.ascontiguousarray(raw).view(f"S{width}").reshape(len(raw))]
            )
            owners = owners_of(old_owners, new_owner_ids)
            order = np.argsort(values, kind="stable")
            digests[kind] = _Digests(values[order], owners[order])
        return _Base(
            entry_ids, bank_ids, alive, pdq_rows, pdq_owners, pdq_variants,
            None if in_owner_order else np.argsort(pdq_owners, kind="stable"),
            tuple(names), digests,
        )  # fmt: skip

    def pdq_rows_of(self, positions: IntArray) -> Int64Array:
        """The PDQ signal rows of these entries (positions): two binary searches each, not a
        pass over the whole owner column (~45 ms at 10M rows)."""
        # In the owners' own dtype: numpy would otherwise cast the whole column per call
        # (int32 owners, int64 positions: 0.38 against 0.02 ms at 1M rows).
        positions = positions.astype(self.pdq_owners.dtype, copy=False)
        lo = self.pdq_owners.searchsorted(positions, "left", sorter=self.pdq_by_owner)
        hi = self.pdq_owners.searchsorted(positions, "right", sorter=self.pdq_by_owner)
        found = _ranges(lo, hi)
        if self.pdq_by_owner is not None:
            found = self.pdq_by_owner[found]
        return self.pdq_rows[found]


def _sorted_within(values: npt.NDArray[Any], count: int) -> bool:
    return count < 2 or bool(np.all(values[1:] > values[:-1]))


def _indexes_within(values: npt.NDArray[Any], count: int) -> bool:
    return not len(values) or (int(values.min()) >= 0 and int(values.max()) < count)


def _sync_chunks(ids: list[int]) -> Iterator[list[int]]:
    """``ids`` in lists of at most ``_SYNC_CHUNK`` (one ``IN (...)`` query each)."""
    for start in range(0, len(ids), _SYNC_CHUNK):
        yield ids[start : start + _SYNC_CHUNK]


def _ranges(lo: IntArray, hi: IntArray) -> Int64Array:
    """Every i with lo[k] <= i < hi[k] for some k (the ranges do not overlap)."""
    lengths = hi - lo
    total = int(lengths.sum())
    starts = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths)
    return (starts + np.arange(total)).astype(np.int64)


class LiveIndex:
    """Active entries of all banks: PDQ in a :class:`HammingIndex`, digests in sorted columns
    (base) and a dict (overlay), videos in a :class:`VideoFrameIndex` (candidates) with their
    frames kept for Meta's exact vPDQ percentages."""

    def __init__(self, source: IndexSource = ENTRIES) -> None:
        self.source = source
        self.lock = threading.RLock()
        self.pdq = HammingIndex(bits=256)
        self.videos = VideoFrameIndex()
        self.banks: dict[int, BankInfo] = {}
        self._base = _Base.empty()
        self._base_alive = 0
        self._entries: dict[int, IndexedEntry] = {}  # the overlay
        self._pdq_owner: dict[int, tuple[int, str]] = {}  # overlay row id -> (entry, variant)
        self._digests: dict[tuple[str, str], tuple[int, ...]] = {}  # overlay digests
        self._frames: dict[int, list[VpdqFrame]] = {}  # vPDQ entries, base and overlay

    def __len__(self) -> int:
        return self._base_alive + len(self._entries)

    # ------------------------------------------------------------------ lookups (no lock)

    def entry_bank(self, entry_id: int) -> int | None:
        """The bank of an indexed (matchable) entry, or None."""
        entry = self._entries.get(entry_id)
        if entry is not None:
            return entry.bank_id
        base = self._base
        pos = base.position(entry_id)
        return None if pos < 0 else int(base.bank_ids[pos])

    def pdq_owner(self, row_id: int) -> tuple[int, str] | None:
        """(entry id, stored variant) of an indexed PDQ signal row, or None."""
        owner = self._pdq_owner.get(row_id)
        if owner is not None:
            return owner
        base = self._base
        i = _find(base.pdq_rows, row_id)
        if i < 0:
            return None
        pos = int(base.pdq_owners[i])
        if not base.alive[pos]:
            return None
        return int(base.entry_ids[pos]), base.variant_names[int(base.pdq_variants[i])]

    def digest_entries(self, kind: str, value: str) -> tuple[int, ...]:
        """Indexed entries holding this md5/sha256 value (hex), each once."""
        found = self._digests.get((kind, value), ())
        base = self._base
        column = base.digests.get(kind)
        if column is None:
            return found
        try:
            key = bytes.fromhex(value)
        except ValueError:
            return found
        if len(key) != column.values.dtype.itemsize:  # shorter keys compare NUL-padded
            return found
        lo = int(column.values.searchsorted(key, "left"))
        hi = int(column.values.searchsorted(key, "right"))
        if lo == hi:
            return found
        owners = column.owners[lo:hi]
        owners = owners[base.alive[owners]]
        return found + tuple(base.entry_ids[owners].tolist())

    def video_frames(self, entry_id: int) -> list[VpdqFrame] | None:
        """The stored vPDQ frames of an indexed video entry."""
        return self._frames.get(entry_id)

    def __contains__(self, entry_id: int) -> bool:
        """Whether an entry (an item, for the catalog) is indexed, i.e. can match."""
        return entry_id in self._entries or self._base.position(entry_id) >= 0

    # ------------------------------------------------------------------ loading

    def load_all(self, session: Session) -> None:
        """Index every active entry; used once at start, on an empty index, before requests
        are served. Pass a session that has not run a statement yet (see
        :func:`snapshot_connection`).

        Start-up time is this method at scale, so the database does the row work: each chunk
        of rows comes back as a few aggregated strings (:mod:`hashwall.service.index_scan`),
        turned into numpy columns at once; no Python object per row. Entries and signals are
        two plain scans (a join cost more), matched up with binary searches.
        """
        with self.lock, gc_paused():
            connection = snapshot_connection(session)
            self._load_banks(session)
            entry_ids, bank_ids = active_owners(connection, self.source)
            builder = _BaseBuilder(entry_ids, bank_ids)
            for chunk in signal_chunks(connection, self.source):
                builder.add(chunk)
            for entry_id, value in video_rows(connection, self.source):
                if builder.claim(entry_id):
                    self._add_video(entry_id, value)
            base, pdq_ids, pdq_hashes = builder.finish()
            if len(pdq_ids):
                self.pdq.add(pdq_ids, pdq_hashes)
            self._base = base
            self._base_alive = int(base.alive.sum())

    def capture(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """The base and the Hamming index as (metadata, arrays), for a start-up snapshot
        (:mod:`hashwall.service.index_snapshot`). Only right after :meth:`load_all`: the
        file must not hold entries of the overlay, which a restore would then add twice.
        The arrays never change afterwards, so they can be written out while requests run."""
        with self.lock:
            if self._entries:
                raise RuntimeError("capture() is for the index as loaded, before any sync")
            base_meta, base = self._base.to_sections()
            pdq_meta, pdq = self.pdq.to_sections()
        sections = {f"base.{name}": array for name, array in base.items()}
        sections.update((f"pdq.{name}", array) for name, array in pdq.items())
        return {"base": base_meta, "pdq": pdq_meta}, sections

    @staticmethod
    def read_snapshot(
        meta: dict[str, Any], sections: dict[str, npt.NDArray[Any]]
    ) -> tuple[_Base, HammingIndex]:
        """Check and assemble what :meth:`capture` wrote; ValueError if the arrays are
        inconsistent. Nothing is changed yet: :meth:`restore` installs the result."""

        def part(prefix: str) -> dict[str, npt.NDArray[Any]]:
            return {k[len(prefix) :]: v for k, v in sections.items() if k.startswith(prefix)}

        base = _Base.from_sections(meta["base"], part("base."))
        pdq = HammingIndex.from_sections(meta["pdq"], part("pdq."), "the index snapshot")
        if pdq.bits != 256:
            raise ValueError("the snapshot's Hamming index is not one of PDQ hashes")
        return base, pdq

    def restore(self, session: Session, snapshot: tuple[_Base, HammingIndex]) -> None:
        """Install a snapshot (:meth:`read_snapshot`) on an empty index instead of
        :meth:`load_all`; bank settings and vPDQ frames (few, and large) are read from the
        database. The caller then replays the changes made since the snapshot."""
        base, pdq = snapshot
        with self.lock, gc_paused():
            self._load_banks(session)
            self.pdq, self._base = pdq, base
            self._base_alive = int(base.alive.sum())
            for entry_id, value in video_rows(session.connection(), self.source):
                if base.position(entry_id) >= 0:
                    self._add_video(entry_id, value)

    def _load_banks(self, session: Session) -> None:
        """Every bank's settings, at start (the catalog has no banks)."""
        if self.source is ENTRIES:
            for bank in session.scalars(select(Bank)):
                self.banks[bank.id] = BankInfo.of(bank)

    def _add_video(self, entry_id: int, value: str) -> None:
        """Index one vPDQ signal (caller holds the lock)."""
        frames = self._frames[entry_id] = frames_from_json(value)
        hashes = frame_hashes(frames, vpdq.QUALITY_THRESHOLD)
        if hashes:
            self.videos.add_video(entry_id, hex_to_bytes_array(hashes, 32))

    def _add_rows(self, rows: Sequence[SignalRow]) -> None:
        """Index signal rows of entries not yet indexed into the overlay (caller holds the
        lock). The entry is visible before its rows reach the Hamming index, so a search
        never finds a row without its owner."""
        pdq_ids: list[int] = []
        pdq_hashes: list[str] = []
        for row_id, entry_id, bank_id, signal_type, variant, value, quality in rows:
            entry = self._entries.get(entry_id)
            if entry is None:
                entry = self._entries[entry_id] = IndexedEntry(entry_id, bank_id)
            if signal_type == "pdq":
                # Like Meta's matcher, hashes too featureless to trust are not matchable.
                if (quality or 0) >= pdq_signal.QUALITY_THRESHOLD:
                    pdq_ids.append(row_id)
                    pdq_hashes.append(value)
                    self._pdq_owner[row_id] = (entry_id, variant)
                    entry.pdq_rows.append(row_id)
            elif signal_type in DIGESTS:
                key = (signal_type, value)
                self._digests[key] = (*self._digests.get(key, ()), entry_id)
                entry.digests.append(key)
            elif signal_type == "vpdq":
                self._add_video(entry_id, value)
        if pdq_ids:
            self.pdq.add(
                np.asarray(pdq_ids, dtype=np.int64),
                hex_to_bytes_array(pdq_hashes, pdq_signal.HASH_BYTES),
            )

    # ------------------------------------------------------------------ removing

    def _remove(self, entry_ids: Sequence[int]) -> None:
        """Un-index these entries, wherever they are (caller holds the lock)."""
        for entry_id in entry_ids:
            self._remove_overlay(entry_id)
        self._remove_base(entry_ids)

    def _remove_overlay(self, entry_id: int) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is None:
            return
        if entry.pdq_rows:
            self.pdq.remove(np.asarray(entry.pdq_rows, dtype=np.int64))
            for row_id in entry.pdq_rows:
                self._pdq_owner.pop(row_id, None)
        for key in entry.digests:
            remaining = tuple(i for i in self._digests.get(key, ()) if i != entry_id)
            if remaining:
                self._digests[key] = remaining
            else:
                self._digests.pop(key, None)
        self._remove_video(entry_id)

    def _remove_base(self, entry_ids: Sequence[int]) -> None:
        """Clear the flags of live base entries first (they stop matching at once), then take
        their PDQ rows out of the Hamming index (found vectorised, per sync chunk)."""
        base = self._base
        if not len(base.entry_ids) or not entry_ids:
            return
        positions = _find_many(base.entry_ids, np.asarray(entry_ids, dtype=np.int64))
        positions = positions[positions >= 0]
        positions = positions[base.alive[positions]]
        if not len(positions):
            return
        base.alive[positions] = False
        self._base_alive -= len(positions)
        rows = base.pdq_rows_of(positions)
        if len(rows):
            self.pdq.remove(rows)
        if self._frames:
            for entry_id in base.entry_ids[positions].tolist():
                self._remove_video(entry_id)

    def _remove_video(self, entry_id: int) -> None:
        self._frames.pop(entry_id, None)
        if entry_id in self.videos:
            self.videos.remove_video(entry_id)

    # ------------------------------------------------------------------ converging

    def forget(self, entry_ids: Sequence[int]) -> None:
        """Stop matching these entries now, without reading the database.

        For a withdrawal or deletion that is committed when the database cannot be read back
        (restarting, busy): the entry must not match a moment longer than its commit. The
        change tailer re-reads it from the log later either way (idempotent)."""
        with self.lock:
            self._remove(entry_ids)

    def sync_entries(self, db: Database, entry_ids: Iterable[int]) -> None:
        """Make the index agree with the database about these entries (idempotent)."""
        self.sync(db, entry_ids=entry_ids)

    def sync_import(self, db: Database, job_id: int) -> None:
        self.sync(db, import_jobs=[job_id])

    def sync(
        self, db: Database, *, entry_ids: Iterable[int] = (), import_jobs: Iterable[int] = ()
    ) -> None:
        """Converge these entries and every entry of these import jobs on the database.

        The database is read *after* the lock is taken, in a transaction of its own: a
        snapshot taken before (the change-log tailer's, opened to read the log) could predate
        a withdrawal that another thread has already applied, and syncing from it would put
        the withdrawn entry back. Under the lock, each sync reads state at least as new as
        the one before it.

        Within each of the two steps (entries named, then imports' entries), removals are
        applied before additions: an entry deleted in the same batch may have held a signal
        row id that a new entry now holds (SQLite reused the largest rowid before migration
        0011), and the Hamming index refuses an id it already has. Across the steps that
        cannot happen since 0011: a new signal row never gets an old row's id.
        """
        ids = set(entry_ids)
        if ids:
            self._sync_ids(db, ids)
        jobs = sorted(set(import_jobs))
        if jobs:
            # An import's entries are selected by a join on the job, never listed in ``IN``
            # chunks (a million-entry import made 2,000 such queries, and ~20 s).
            self._sync_imports(db, jobs)

    def _sync_imports(self, db: Database, jobs: list[int]) -> None:
        """Converge the entries of these imports, joined on the job in the database.

        Entries no longer active are removed; active ones not indexed yet are read as
        columns (:class:`Additions`) and, when there are many (a bulk import), appended to the
        base in one step, or else added to the overlay as single entries are. Entries
        already indexed (a replayed change) are skipped; a base entry that became active
        again goes through the overlay, as in :meth:`sync`."""
        source = self.source
        owner = source.owner_model
        of_jobs = getattr(owner, source.import_column).in_(jobs)
        with self.lock, db.session(readonly=True) as session, gc_paused():
            gone = select(owner.id).where(of_jobs, owner.state != source.active)
            self._remove(list(session.scalars(gone)))
            if self._all_indexed(import_owners(session.connection(), source, jobs)):
                return  # a replayed change (this worker's own import, say): nothing to read
            rows = (
                source.signal_rows()
                .where(of_jobs, owner.state == source.active)
                .order_by(source.signal_model.id)
            )
            fresh = Additions()
            single: list[SignalRow] = []
            kept: list[SignalRow] | None = []  # the new rows, until they are too many
            streamed = session.connection().execution_options(yield_per=_SYNC_CHUNK * 100)
            for part in streamed.execute(rows).partitions():
                new, again = self._unindexed(part)
                fresh.add(new)
                single.extend(again)
                if kept is not None:
                    kept.extend(new)
                    if fresh.rows >= BULK_MIN:
                        kept = None
            if kept is None:
                self._append_to_base(fresh)
            else:
                single.extend(kept)
            self._add_rows(single)

    def _all_indexed(self, owner_ids: Int64Array) -> bool:
        """Whether every one of these owners can match already."""
        return not self._unindexed_owners(owner_ids)

    def _unindexed_owners(self, owner_ids: Int64Array) -> list[int]:
        """The owners among these that cannot match yet, found vectorised over the base
        (a bulk import names a million; asking ``in`` for each costs seconds)."""
        base = self._base
        position = _find_many(base.entry_ids, owner_ids)
        alive = position >= 0
        alive[alive] = base.alive[position[alive]]
        return [i for i in owner_ids[~alive].tolist() if i not in self._entries]

    def _unindexed(self, rows: Sequence[Any]) -> tuple[list[SignalRow], list[SignalRow]]:
        """Rows of owners in neither layer, and rows of base owners no longer alive (those
        re-enter through the overlay); rows of indexed owners are dropped."""
        if not rows:
            return [], []
        base = self._base
        owners = np.fromiter((row[1] for row in rows), np.int64, len(rows))
        position = _find_many(base.entry_ids, owners)
        in_base = position >= 0
        overlay = self._entries
        new: list[SignalRow] = []
        again: list[SignalRow] = []
        for row, pos, known in zip(rows, position.tolist(), in_base.tolist(), strict=True):
            if row[1] in overlay:
                continue
            if not known:
                new.append(tuple(row))
            elif not base.alive[pos]:
                again.append(tuple(row))
        return new, again

    def _append_to_base(self, fresh: Additions) -> None:
        """Swap in a base extended by ``fresh`` (the owners become visible), then index their
        PDQ rows and videos: a search never finds a row without its owner."""
        base = self._base.extended(fresh)
        added = len(base.entry_ids) - len(self._base.entry_ids)
        self._base = base
        self._base_alive += added
        rows, _owners, _variants, hashes = fresh.pdq_columns()
        if len(rows):
            self.pdq.add(rows, hashes)
        for entry_id, value in fresh.videos:
            self._add_video(entry_id, value)

    def _sync_ids(self, db: Database, ids: set[int]) -> None:
        with self.lock, db.session(readonly=True) as session:
            missing: list[int] = []
            for chunk in _sync_chunks(sorted(ids)):
                active = set(session.scalars(self.source.active_among(chunk)))
                self._remove([i for i in chunk if i not in active])
                missing.extend(i for i in chunk if i in active and i not in self)
            self._read_owners(session, missing)

    def sync_selected(self, db: Database, owners: Select[Any] | CompoundSelect[Any]) -> int:
        """:meth:`sync` for the owners a query selects (one id column, repeats allowed),
        joined in the database: replaying 100k changes at start would otherwise send 100k
        ids in ``IN`` lists, whose building alone costs ~6 us per id. Same guarantees:
        read under the lock in a fresh transaction, removals before additions. Returns how
        many distinct owners were converged."""
        source = self.source
        owner = source.owner_model
        with self.lock, db.session(readonly=True) as session:
            chosen = owners.subquery()
            ids = select(chosen.c[0])
            named = list(session.scalars(ids.distinct()))
            active = set(session.scalars(source.active_among(ids)))
            self._remove([i for i in named if i not in active])
            missing = self._not_indexed(active)
            if len(missing) * 2 < len(active):  # mostly indexed already: read only the rest
                self._read_owners(session, sorted(missing))
                return len(named)
            rows = (
                source.signal_rows()
                .where(owner.id.in_(ids), owner.state == source.active)
                .order_by(source.signal_model.id)
            )
            streamed = session.connection().execution_options(yield_per=_SYNC_CHUNK * 10)
            for part in streamed.execute(rows).partitions():
                self._add_rows([row for row in part if row[1] in missing])
        return len(named)

    def _not_indexed(self, owner_ids: set[int]) -> set[int]:
        """:meth:`_unindexed_owners` of a set. Why: a restart from a snapshot replays the
        changes of its last minutes, and a bulk import among them names a million owners the
        snapshot already holds; streaming every signal row of the import again made that
        replay cost more than the import itself."""
        return set(self._unindexed_owners(np.fromiter(owner_ids, np.int64, len(owner_ids))))

    def _read_owners(self, session: Session, owner_ids: list[int]) -> None:
        """Index these owners (active, not indexed yet), their rows read in chunks."""
        source = self.source
        for chunk in _sync_chunks(owner_ids):
            rows = (
                source.signal_rows()
                .where(source.owner_of().in_(chunk))
                .order_by(source.signal_model.id)
            )
            self._add_rows(session.connection().execute(rows).all())

    def sync_bank(self, db: Database, bank_id: int) -> None:
        with self.lock, db.session(readonly=True) as session:
            bank = session.get(Bank, bank_id)
            if bank is None:
                self.banks.pop(bank_id, None)
            else:
                self.banks[bank_id] = BankInfo.of(bank)


class _BaseBuilder:
    """Collects the scanned chunks into the columns of a :class:`_Base`.

    Only rows of active entries are kept; an active entry without any signal row is not
    indexed (as before: it cannot match, and ``len`` counts indexed entries)."""

    def __init__(self, entry_ids: Int64Array, bank_ids: Int64Array) -> None:
        self.entry_ids = entry_ids
        self.bank_ids = bank_ids
        self.has_signal = np.zeros(len(entry_ids), bool)
        self.owner_type = np.int32 if len(entry_ids) < 2**31 else np.int64
        self.variants: dict[str, int] = {}
        self.pdq: list[tuple[Int64Array, IntArray, npt.NDArray[np.int32], UInt8Array]] = []
        self.digests: dict[str, list[tuple[IntArray, UInt8Array]]] = {k: [] for k in DIGESTS}

    def claim(self, entry_id: int) -> bool:
        """Whether an entry is active; it then counts as indexed."""
        pos = _find(self.entry_ids, entry_id)
        if pos >= 0:
            self.has_signal[pos] = True
        return pos >= 0

    def add(self, chunk: SignalChunk) -> None:
        owners = _find_many(self.entry_ids, chunk.owner_ids)
        active = owners >= 0
        self.has_signal[owners[active]] = True
        if chunk.values is None:
            return
        if chunk.malformed is not None:
            active &= ~chunk.malformed
        if chunk.signal_type == "pdq":
            # Like Meta's matcher, hashes too featureless to trust are not matchable.
            keep = active & (chunk.quality >= pdq_signal.QUALITY_THRESHOLD)
            code = self.variants.setdefault(chunk.variant, len(self.variants))
            self.pdq.append(
                (
                    chunk.ids[keep],
                    owners[keep].astype(self.owner_type),
                    np.full(int(keep.sum()), code, np.int32),
                    chunk.values[keep],
                )
            )
        elif chunk.signal_type in self.digests:
            self.digests[chunk.signal_type].append(
                (owners[active].astype(self.owner_type), chunk.values[active])
            )

    def finish(self) -> tuple[_Base, Int64Array, UInt8Array]:
        """The base, plus the PDQ rows and hashes for one bulk load of the Hamming index."""
        rows = joined([p[0] for p in self.pdq], np.int64)
        owners = joined([p[1] for p in self.pdq], self.owner_type)
        codes = joined([p[2] for p in self.pdq], np.int32)
        hashes = (
            np.concatenate([p[3] for p in self.pdq])
            if self.pdq
            else np.zeros((0, pdq_signal.HASH_BYTES), np.uint8)
        )
        self.pdq.clear()
        order = np.argsort(rows, kind="stable")
        owners = owners[order]
        in_owner_order = len(owners) < 2 or bool(np.all(owners[1:] >= owners[:-1]))
        base = _Base(
            self.entry_ids,
            self.bank_ids,
            self.has_signal,
            rows[order],
            owners,
            codes[order],
            None if in_owner_order else np.argsort(owners, kind="stable"),
            tuple(self.variants),
            {kind: self._digest_column(kind) for kind in DIGESTS},
        )
        return base, rows, hashes

    def _digest_column(self, kind: str) -> _Digests:
        parts = self.digests.pop(kind)
        nbytes = FIXED_BYTES[kind]
        owners = joined([p[0] for p in parts], self.owner_type)
        raw = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, nbytes), np.uint8)
        values = np.ascontiguousarray(raw).view(f"S{nbytes}").reshape(len(raw))
        order = np.argsort(values, kind="stable")
        return _Digests(values[order], owners[order])


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of small objects are made (each pass
    would rescan them all); reference counting still frees them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def frame_hashes(frames: Sequence[VpdqFrame], quality_threshold: int) -> list[str]:
    """Unique frame hashes (primary and borderless) good enough to match on."""
    seen: dict[str, None] = {}
    for frame in frames:
        for value in frame.hashes(quality_threshold):
            seen.setdefault(value, None)
    return list(seen)
