"""The in-memory index of every active entry, kept in step with the database.

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
from sqlalchemy import Connection, Select, select, text
from sqlalchemy.orm import Session

from hashwall.index import HammingIndex, VideoFrameIndex
from hashwall.service.records import frames_from_json
from hashwall.signals import pdq as pdq_signal
from hashwall.signals import vpdq
from hashwall.signals.hexcodec import hex_to_bytes_array
from hashwall.signals.vpdq import VpdqFrame
from hashwall.store import Bank, Database, Entry, EntrySignal, EntryState

log = logging.getLogger("hashwall.service")

_SYNC_CHUNK = 500
_LOAD_CHUNK = 200_000
_VIDEO_CHUNK = 1_000
_BEFORE_ALL = -(2**63)  # smaller than any id: where the scans start
#: Bytes per value of the signals whose stored values are fixed-width hex.
_FIXED_BYTES = {"pdq": pdq_signal.HASH_BYTES, "md5": 16, "sha256": 32}
_DIGESTS = ("md5", "sha256")

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

    @classmethod
    def of(cls, bank: Bank) -> BankInfo:
        return cls(bank.id, bank.name, bank.enabled, bank.negative, bank.pdq_threshold, bank.action)


@dataclass(slots=True)
class IndexedEntry:
    """An entry of the overlay (indexed after start)."""

    entry_id: int
    bank_id: int
    pdq_rows: list[int] = field(default_factory=list)
    digests: list[tuple[str, str]] = field(default_factory=list)


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

    def pdq_rows_of(self, positions: IntArray) -> Int64Array:
        """The PDQ signal rows of these entries (positions): two binary searches each, not a
        pass over the whole owner column (~45 ms at 10M rows)."""
        lo = self.pdq_owners.searchsorted(positions, "left", sorter=self.pdq_by_owner)
        hi = self.pdq_owners.searchsorted(positions, "right", sorter=self.pdq_by_owner)
        found = _ranges(lo, hi)
        if self.pdq_by_owner is not None:
            found = self.pdq_by_owner[found]
        return self.pdq_rows[found]


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

    def __init__(self) -> None:
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

    def _indexed(self, entry_id: int) -> bool:
        return entry_id in self._entries or self._base.position(entry_id) >= 0

    # ------------------------------------------------------------------ loading

    def load_all(self, session: Session) -> None:
        """Index every active entry; used once at start, on an empty index, before requests
        are served. Pass a session that has not run a statement yet (see
        :func:`_snapshot_connection`).

        Start-up time is this method at scale, so the database does the row work: each chunk
        of rows comes back as a few aggregated strings (:func:`_signal_chunks`), turned into
        numpy columns at once; no Python object per row. Entries and signals are two plain
        scans (a join cost more), matched up with binary searches.
        """
        with self.lock, _gc_paused():
            connection = _snapshot_connection(session)
            for bank in session.scalars(select(Bank)):
                self.banks[bank.id] = BankInfo.of(bank)
            entry_ids, bank_ids = _active_entries(connection)
            builder = _BaseBuilder(entry_ids, bank_ids)
            for chunk in _signal_chunks(connection):
                builder.add(chunk)
            for entry_id, value in _video_rows(connection):
                if builder.claim(entry_id):
                    self._add_video(entry_id, value)
            base, pdq_ids, pdq_hashes = builder.finish()
            if len(pdq_ids):
                self.pdq.add(pdq_ids, pdq_hashes)
            self._base = base
            self._base_alive = int(base.alive.sum())

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
            elif signal_type in _DIGESTS:
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
        for entry_id in base.entry_ids[positions].tolist():
            self._remove_video(entry_id)

    def _remove_video(self, entry_id: int) -> None:
        self._frames.pop(entry_id, None)
        if entry_id in self.videos:
            self.videos.remove_video(entry_id)

    # ------------------------------------------------------------------ converging

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

        Every removal is applied before any addition: an entry deleted in the same batch may
        have held a signal row id that a new entry now holds (SQLite reused the largest
        rowid before migration 0011), and the Hamming index refuses an id it already has.
        """
        with self.lock, db.session() as session:
            ids = set(entry_ids)
            for job_id in import_jobs:
                ids.update(session.scalars(select(Entry.id).where(Entry.import_job_id == job_id)))
            ordered = sorted(ids)
            chunks = [
                ordered[start : start + _SYNC_CHUNK]
                for start in range(0, len(ordered), _SYNC_CHUNK)
            ]
            missing: list[int] = []
            for chunk in chunks:
                active = set(
                    session.scalars(
                        select(Entry.id).where(
                            Entry.id.in_(chunk), Entry.state == EntryState.ACTIVE
                        )
                    )
                )
                self._remove([i for i in chunk if i not in active])
                missing.extend(i for i in chunk if i in active and not self._indexed(i))
            for start in range(0, len(missing), _SYNC_CHUNK):
                chunk = missing[start : start + _SYNC_CHUNK]
                query = (
                    _signal_rows().where(EntrySignal.entry_id.in_(chunk)).order_by(EntrySignal.id)
                )
                self._add_rows(session.connection().execute(query).all())

    def sync_bank(self, db: Database, bank_id: int) -> None:
        with self.lock, db.session() as session:
            bank = session.get(Bank, bank_id)
            if bank is None:
                self.banks.pop(bank_id, None)
            else:
                self.banks[bank_id] = BankInfo.of(bank)


# ---------------------------------------------------------------------- start-up scans


@dataclass(frozen=True, eq=False)
class _SignalChunk:
    """Signal rows of one type and variant from one chunk of the scan, as columns.

    ``values`` holds the decoded bytes for fixed-width types (None otherwise); rows whose
    value did not decode are marked ``malformed``: they are not indexed, though their entry
    is (as an entry whose only PDQ is of low quality is).
    """

    signal_type: str
    variant: str
    ids: Int64Array
    entry_ids: Int64Array
    quality: Int64Array
    values: UInt8Array | None
    malformed: npt.NDArray[np.bool_] | None = None


def _snapshot_connection(session: Session) -> Connection:
    """The session's connection for the start-up scans, which are several statements that
    must see one snapshot: SQLite's transaction is one already (BEGIN, WAL); PostgreSQL's
    default READ COMMITTED gives each statement its own, so REPEATABLE READ is asked for.
    (That only takes on a session's first statement; SQLAlchemy warns otherwise, and the
    change log, replayed after start, would still correct any entry that changed between
    two scans.)"""
    if session.get_bind().dialect.name == "postgresql":
        return session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return session.connection()


#: Order-independent checksums of each row's pairing of id with owner, quality and value,
#: computed by the database next to the joined columns and again from the parsed columns:
#: if the aggregates ever came back in different row orders (neither database documents
#: that they cannot), a hash would be paired with the wrong entry; the sums then differ
#: and the chunk is read row by row instead. Terms stay far below 2**63 per chunk.
_CHECK_PRIME = 65521
_ID_WEIGHT = f"(id % {_CHECK_PRIME})"
_OWNER_TERM = f"(entry_id % {_CHECK_PRIME})"
_QUALITY_TERM = "65537 * (coalesce(quality, 0) % 251)"


def _first_char(dialect: str) -> str:
    """SQL for the character code of a value's first character (one cheap call per row:
    four ``substr`` calls per row doubled the 10M start-up)."""
    return "ascii(value)" if dialect == "postgresql" else "unicode(value)"


def _concat(dialect: str, column: str) -> str:
    """SQL aggregating a column of a chunk into one comma-separated string.

    The columns of a chunk come back as separate aggregates, so they must line up: they do
    because each is an aggregate of the same query level over one scan of one table (no
    join, no ORDER BY or DISTINCT inside them), which both databases evaluate row by row,
    advancing every aggregate of the row's group on it before the next row. Ordering every
    aggregate by id (the documented way to fix the order) made PostgreSQL sort each column
    separately: 2.5x the time.
    """
    if dialect == "postgresql":
        return f"string_agg(CAST({column} AS TEXT), ',')"
    return f"group_concat({column}, ',')"


def _spans(connection: Connection, table: str) -> Iterator[tuple[int, int]]:
    """Ranges (after, upto] of ``_LOAD_CHUNK`` ids that cover every row of a table, gaps
    skipped. Ranges of ids rather than ORDER BY id LIMIT n keep every chunk query a primary
    key range scan whatever the planner's statistics say (PostgreSQL without them read and
    sorted the whole table for each chunk)."""
    first_after = text(f"SELECT min(id) FROM {table} WHERE id > :after")
    after = _BEFORE_ALL
    while True:
        first = connection.execute(first_after, {"after": after}).scalar()
        if first is None:
            return
        after = int(first) - 1
        yield after, after + _LOAD_CHUNK
        after += _LOAD_CHUNK


def _active_entries(connection: Connection) -> tuple[Int64Array, Int64Array]:
    """Sorted ids of the active entries and their banks, read in chunks."""
    dialect = connection.dialect.name
    query = text(
        f"SELECT count(*) AS n, {_concat(dialect, 'id')} AS ids, "
        f"{_concat(dialect, 'bank_id')} AS banks, "
        f"sum({_ID_WEIGHT} * (bank_id % {_CHECK_PRIME})) AS pair_check FROM entries "
        "WHERE id > :after AND id <= :upto AND state = :state"
    )
    one_by_one = text(
        "SELECT id, bank_id FROM entries "
        "WHERE id > :after AND id <= :upto AND state = :state ORDER BY id"
    )
    ids: list[Int64Array] = []
    banks: list[Int64Array] = []
    for after, upto in _spans(connection, "entries"):
        params = {"after": after, "upto": upto, "state": EntryState.ACTIVE.value}
        row = connection.execute(query, params).one()
        if not row.n:
            continue
        chunk_ids, chunk_banks = _ints(row.ids, row.n), _ints(row.banks, row.n)
        if not _checksum_holds(chunk_ids, chunk_banks % _CHECK_PRIME, row.pair_check):
            log.warning("start-up: entries came back in different orders; reading them again")
            rows = connection.execute(one_by_one, params).all()
            chunk_ids = np.asarray([r.id for r in rows], np.int64)
            chunk_banks = np.asarray([r.bank_id for r in rows], np.int64)
        ids.append(chunk_ids)
        banks.append(chunk_banks)
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    entry_ids, bank_ids = np.concatenate(ids), np.concatenate(banks)
    if len(entry_ids) > 1 and not bool(np.all(entry_ids[1:] > entry_ids[:-1])):
        order = np.argsort(entry_ids, kind="stable")
        entry_ids, bank_ids = entry_ids[order], bank_ids[order]
    return entry_ids, bank_ids


class _ChunkQueries:
    """The two forms of the signal scan's chunk query (see :func:`_signal_chunks`)."""

    def __init__(self, dialect: str) -> None:
        columns = (
            f"count(*) AS n, {_concat(dialect, 'id')} AS ids, "
            f"{_concat(dialect, 'entry_id')} AS owners, "
            f"{_concat(dialect, 'coalesce(quality, 0)')} AS quality, "
            f"{_concat(dialect, 'value')} AS vals, "
            f"sum({_ID_WEIGHT} * ({_OWNER_TERM} + {_QUALITY_TERM})) AS pair_check, "
            f"sum({_ID_WEIGHT} * {_first_char(dialect)}) AS value_check"
        )
        chunk = "entry_signals WHERE id > :after AND id <= :upto AND signal_type <> 'vpdq'"
        self.uniform = text(
            f"SELECT {columns}, count(CASE WHEN signal_type = :signal_type "
            f"AND variant = :variant THEN 1 END) AS matching FROM {chunk}"
        )
        self.grouped = text(
            f"SELECT signal_type, variant, {columns} FROM {chunk} GROUP BY signal_type, variant"
        )


def _signal_chunks(connection: Connection) -> Iterator[_SignalChunk]:
    """Every signal row except vPDQ (see :func:`_video_rows`), a range of ids at a time, each
    chunk as a few strings: the ids, entry ids, qualities and values of its rows of one type
    and variant, joined with commas by the database. Fetching 10M rows one Python tuple each
    took most of start-up.

    Most chunks hold one type and variant (the last chunk's, guessed): one aggregate over the
    chunk says so and is used as is. Otherwise the chunk is read again grouped by type and
    variant (the grouping sorts the chunk: about twice the database time).
    """
    queries = _ChunkQueries(connection.dialect.name)
    guess: tuple[str, str] | None = ("pdq", "original")
    for id_range in _spans(connection, "entry_signals"):
        params: dict[str, Any] = {"after": id_range[0], "upto": id_range[1]}
        if guess is not None:
            row = connection.execute(
                queries.uniform, {**params, "signal_type": guess[0], "variant": guess[1]}
            ).one()
            if not row.n:
                continue
            if row.matching == row.n:
                yield _chunk_of(connection, guess, row, id_range)
                continue
        rows = connection.execute(queries.grouped, params).all()
        if rows:
            guess = (rows[0].signal_type, rows[0].variant) if len(rows) == 1 else None
        for row in rows:
            yield _chunk_of(connection, (row.signal_type, row.variant), row, id_range)


def _chunk_of(
    connection: Connection, kind: tuple[str, str], row: Any, id_range: tuple[int, int]
) -> _SignalChunk:
    """Columns of one aggregated row of one (type, variant); values that are not all
    well-formed send them down the row-by-row path instead."""
    count = int(row.n)
    nbytes = _FIXED_BYTES.get(kind[0])
    values = None if nbytes is None else _fixed_hex(row.vals, count, nbytes)
    if nbytes is not None and values is None:
        return _checked_rows(connection, kind, id_range, nbytes)
    chunk = _SignalChunk(
        *kind,
        _ints(row.ids, count),
        _ints(row.owners, count),
        _ints(row.quality, count),
        values,
    )
    if nbytes is not None and not _aligned(chunk, row):
        log.warning("start-up: the database returned a chunk's columns in different orders")
        return _checked_rows(connection, kind, id_range, nbytes)
    return chunk


def _aligned(chunk: _SignalChunk, row: Any) -> bool:
    """Whether the parsed columns pair up as the database's checksums say (see above)."""
    pairs = chunk.entry_ids % _CHECK_PRIME + 65537 * (chunk.quality % 251)
    if not _checksum_holds(chunk.ids, pairs, row.pair_check):
        return False
    if chunk.values is None:
        return True
    width = 2 * chunk.values.shape[1] + 1  # _fixed_hex checked the layout of row.vals
    first_chars = np.frombuffer(row.vals.encode("ascii"), np.uint8)[::width].astype(np.int64)
    return _checksum_holds(chunk.ids, first_chars, row.value_check)


def _checksum_holds(ids: Int64Array, paired: Int64Array, from_database: Any) -> bool:
    """sum((id % prime) * paired) over the parsed rows equals the database's own sum."""
    return int(np.sum(ids % _CHECK_PRIME * paired)) == int(from_database or 0)


def _ints(joined: str | None, count: int) -> Int64Array:
    """A comma-separated integer column aggregated by the database."""
    if not count:
        return np.zeros(0, np.int64)
    values = np.fromstring(joined or "", dtype=np.int64, sep=",")
    if len(values) != count:
        raise RuntimeError(f"expected {count} integers from the database, parsed {len(values)}")
    return values


def _fixed_hex(joined: str | None, count: int, nbytes: int) -> UInt8Array | None:
    """``count`` comma-separated hex values of ``nbytes`` bytes each, as (count, nbytes)
    bytes; None unless every one is exactly that (one wrong length would shift all the rows
    after it, so this is checked, not assumed)."""
    width = 2 * nbytes + 1
    if joined is None or len(joined) != count * width - 1:
        return None
    if joined.count(",") != count - 1 or joined[width - 1 :: width] != "," * (count - 1):
        return None
    try:
        raw = bytes.fromhex(joined.replace(",", ""))
    except ValueError:
        return None
    if len(raw) != count * nbytes:  # fromhex skips whitespace
        return None
    return np.frombuffer(raw, np.uint8).reshape(count, nbytes)


def _checked_rows(
    connection: Connection, kind: tuple[str, str], id_range: tuple[int, int], nbytes: int
) -> _SignalChunk:
    """The rows of one type and variant in a chunk, read and decoded one by one; values that
    are not ``nbytes`` bytes of hex can never equal a query's and are marked (and logged)."""
    signal_type, variant = kind
    after, upto = id_range
    rows = connection.execute(
        select(EntrySignal.id, EntrySignal.entry_id, EntrySignal.value, EntrySignal.quality)
        .where(
            EntrySignal.id > after,
            EntrySignal.id <= upto,
            EntrySignal.signal_type == signal_type,
            EntrySignal.variant == variant,
        )
        .order_by(EntrySignal.id)
    ).all()
    columns = np.zeros((len(rows), 3), np.int64)
    hashes = np.zeros((len(rows), nbytes), np.uint8)
    malformed = np.zeros(len(rows), bool)
    for i, (row_id, entry_id, value, quality) in enumerate(rows):
        columns[i] = (row_id, entry_id, quality or 0)
        decoded = _decoded(value)
        if len(decoded) == nbytes:
            hashes[i] = np.frombuffer(decoded, np.uint8)
        else:
            malformed[i] = True
            log.warning("%s signal row %d has a malformed value: not indexed", signal_type, row_id)
    return _SignalChunk(
        signal_type, variant, columns[:, 0], columns[:, 1], columns[:, 2], hashes, malformed
    )


def _decoded(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def _video_rows(connection: Connection) -> Iterator[tuple[int, str]]:
    """(entry id, value) of every vPDQ signal in id order: rare, large values, one by one."""
    query = (
        select(EntrySignal.entry_id, EntrySignal.value)
        .where(EntrySignal.signal_type == "vpdq")
        .order_by(EntrySignal.id)
    )
    streamed = connection.execution_options(yield_per=_VIDEO_CHUNK)
    for rows in streamed.execute(query).partitions():
        yield from rows


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
        self.digests: dict[str, list[tuple[IntArray, UInt8Array]]] = {k: [] for k in _DIGESTS}

    def claim(self, entry_id: int) -> bool:
        """Whether an entry is active; it then counts as indexed."""
        pos = _find(self.entry_ids, entry_id)
        if pos >= 0:
            self.has_signal[pos] = True
        return pos >= 0

    def add(self, chunk: _SignalChunk) -> None:
        owners = _find_many(self.entry_ids, chunk.entry_ids)
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
        rows = _joined([p[0] for p in self.pdq], np.int64)
        owners = _joined([p[1] for p in self.pdq], self.owner_type)
        codes = _joined([p[2] for p in self.pdq], np.int32)
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
            {kind: self._digest_column(kind) for kind in _DIGESTS},
        )
        return base, rows, hashes

    def _digest_column(self, kind: str) -> _Digests:
        parts = self.digests.pop(kind)
        nbytes = _FIXED_BYTES[kind]
        owners = _joined([p[0] for p in parts], self.owner_type)
        raw = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, nbytes), np.uint8)
        values = np.ascontiguousarray(raw).view(f"S{nbytes}").reshape(len(raw))
        order = np.argsort(values, kind="stable")
        return _Digests(values[order], owners[order])


def _joined(parts: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


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
