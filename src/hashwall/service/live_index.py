"""The in-memory index of every active entry, kept in step with the database.

Built from the database at start (one query, one bulk load of the Hamming index), then
*converged* per entry: :meth:`LiveIndex.sync_entries` re-reads the entries' current state and
adds or removes them. Because syncing is idempotent and reads the committed state under one
lock, the order in which a worker learns about changes (its own request, or the change-log
tailer) cannot leave a withdrawn entry matchable.

Searches never take the lock: the Hamming index is safe for concurrent readers, and the
dictionaries here are only replaced value-by-value, never iterated by writers while readers
look up single keys.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hashwall.index import HammingIndex, VideoFrameIndex
from hashwall.service.records import frames_from_json
from hashwall.signals import pdq as pdq_signal
from hashwall.signals import vpdq
from hashwall.signals.hexcodec import hex_to_bytes_array
from hashwall.signals.vpdq import VpdqFrame
from hashwall.store import Bank, Entry, EntrySignal, EntryState

_SYNC_CHUNK = 500
_LOAD_CHUNK = 200_000


@dataclass(frozen=True)
class BankInfo:
    id: int
    name: str
    enabled: bool
    negative: bool
    pdq_threshold: int
    action: str | None

    @classmethod
    def of(cls, bank: Bank) -> BankInfo:
        return cls(bank.id, bank.name, bank.enabled, bank.negative, bank.pdq_threshold, bank.action)


@dataclass(slots=True)
class IndexedEntry:
    entry_id: int
    bank_id: int
    pdq_rows: list[int] = field(default_factory=list)
    digests: list[tuple[str, str]] = field(default_factory=list)
    frames: list[VpdqFrame] | None = None


SignalRow = tuple[int, int, int, str, str, str, int | None]
"""(signal row id, entry id, bank id, signal type, variant, value, quality)"""


def _signal_rows() -> Select[int, int, int, str, str, str, int | None]:
    """The columns ``LiveIndex._add_rows`` takes, for whichever entries the caller selects."""
    return select(
        EntrySignal.id,
        EntrySignal.entry_id,
        Entry.bank_id,
        EntrySignal.signal_type,
        EntrySignal.variant,
        EntrySignal.value,
        EntrySignal.quality,
    ).join(Entry, Entry.id == EntrySignal.entry_id)


class LiveIndex:
    """Active entries of all banks: PDQ in a :class:`HammingIndex`, digests in a dict, videos
    in a :class:`VideoFrameIndex` (candidates) with their frames kept for Meta's exact vPDQ
    percentages."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pdq = HammingIndex(bits=256)
        self.pdq_owner: dict[int, tuple[int, str]] = {}  # signal row id -> (entry id, variant)
        self.digests: dict[tuple[str, str], tuple[int, ...]] = {}
        self.videos = VideoFrameIndex()
        self.entries: dict[int, IndexedEntry] = {}
        self.banks: dict[int, BankInfo] = {}

    def __len__(self) -> int:
        return len(self.entries)

    # ------------------------------------------------------------------ loading

    def load_all(self, session: Session) -> None:
        """Index every active entry; used once at start, before requests are served.

        Start-up time is this method at scale (1M hashes: 9.6 s -> ~4 s), hence Core rows
        (the ORM's per-row bookkeeping cost seconds) and the garbage collector paused while
        millions of long-lived objects are created (each collection would walk them all).
        """
        with self.lock, _gc_paused():
            for bank in session.scalars(select(Bank)):
                self.banks[bank.id] = BankInfo.of(bank)
            query = _signal_rows().where(Entry.state == EntryState.ACTIVE).order_by(EntrySignal.id)
            # Streamed in chunks (never all rows at once: at 10M that alone was gigabytes of
            # row tuples), PDQ hashes packed per chunk, then one bulk build of the index.
            streamed = session.connection().execution_options(yield_per=_LOAD_CHUNK)
            pdq_ids: list[int] = []
            packed: list[np.ndarray] = []
            for rows in streamed.execute(query).partitions():
                ids, hashes = self._index_rows(rows)
                if ids:
                    pdq_ids.extend(ids)
                    packed.append(hex_to_bytes_array(hashes, pdq_signal.HASH_BYTES))
            if pdq_ids:
                self.pdq.add(np.asarray(pdq_ids, dtype=np.int64), np.concatenate(packed))

    def _add_rows(self, rows: Sequence[SignalRow]) -> None:
        """Index signal rows of entries not yet indexed (caller holds the lock)."""
        pdq_ids, pdq_hashes = self._index_rows(rows)
        if pdq_ids:
            self.pdq.add(
                np.asarray(pdq_ids, dtype=np.int64),
                hex_to_bytes_array(pdq_hashes, pdq_signal.HASH_BYTES),
            )

    def _index_rows(self, rows: Sequence[SignalRow]) -> tuple[list[int], list[str]]:
        """Book-keep signal rows of entries not yet indexed; returns the PDQ rows to add to
        the Hamming index (ids and hex values) for the caller to add in bulk."""
        pdq_ids: list[int] = []
        pdq_hashes: list[str] = []
        for row_id, entry_id, bank_id, signal_type, variant, value, quality in rows:
            entry = self.entries.get(entry_id)
            if entry is None:
                entry = self.entries[entry_id] = IndexedEntry(entry_id, bank_id)
            if signal_type == "pdq":
                # Like Meta's matcher, hashes too featureless to trust are not matchable.
                if (quality or 0) >= pdq_signal.QUALITY_THRESHOLD:
                    pdq_ids.append(row_id)
                    pdq_hashes.append(value)
                    self.pdq_owner[row_id] = (entry_id, variant)
                    entry.pdq_rows.append(row_id)
            elif signal_type in ("md5", "sha256"):
                key = (signal_type, value)
                self.digests[key] = (*self.digests.get(key, ()), entry_id)
                entry.digests.append(key)
            elif signal_type == "vpdq":
                entry.frames = frames_from_json(value)
                hashes = frame_hashes(entry.frames, vpdq.QUALITY_THRESHOLD)
                if hashes:
                    self.videos.add_video(entry_id, hex_to_bytes_array(hashes, 32))
        return pdq_ids, pdq_hashes

    def _remove(self, entry_id: int) -> None:
        entry = self.entries.pop(entry_id, None)
        if entry is None:
            return
        if entry.pdq_rows:
            self.pdq.remove(np.asarray(entry.pdq_rows, dtype=np.int64))
            for row_id in entry.pdq_rows:
                self.pdq_owner.pop(row_id, None)
        for key in entry.digests:
            remaining = tuple(i for i in self.digests.get(key, ()) if i != entry_id)
            if remaining:
                self.digests[key] = remaining
            else:
                self.digests.pop(key, None)
        if entry_id in self.videos:
            self.videos.remove_video(entry_id)

    # ------------------------------------------------------------------ converging

    def sync_entries(self, session: Session, entry_ids: Iterable[int]) -> None:
        """Make the index agree with the database about these entries (idempotent)."""
        ids = sorted(set(entry_ids))
        with self.lock:
            for start in range(0, len(ids), _SYNC_CHUNK):
                chunk = ids[start : start + _SYNC_CHUNK]
                active = set(
                    session.scalars(
                        select(Entry.id).where(
                            Entry.id.in_(chunk), Entry.state == EntryState.ACTIVE
                        )
                    )
                )
                for entry_id in chunk:
                    if entry_id not in active:
                        self._remove(entry_id)
                missing = [i for i in chunk if i in active and i not in self.entries]
                if not missing:
                    continue
                query = (
                    _signal_rows().where(EntrySignal.entry_id.in_(missing)).order_by(EntrySignal.id)
                )
                self._add_rows(session.connection().execute(query).all())

    def sync_import(self, session: Session, job_id: int) -> None:
        ids = session.scalars(select(Entry.id).where(Entry.import_job_id == job_id)).all()
        self.sync_entries(session, ids)

    def sync_bank(self, session: Session, bank_id: int) -> None:
        with self.lock:
            bank = session.get(Bank, bank_id)
            if bank is None:
                self.banks.pop(bank_id, None)
            else:
                self.banks[bank_id] = BankInfo.of(bank)


@contextmanager
def _gc_paused() -> Iterator[None]:
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
