"""Write many entries and their signal rows at once, in the caller's transaction.

Why not ORM objects: at a million entries the unit of work (an ``Entry`` and an
``EntrySignal`` object per line, flushed row by row to learn ids) ran at ~1,000-1,300 entries/s.
Here ids are allocated in bulk, before the rows are sent, so every row can be written without
a round trip for its id:

* **SQLite**: the caller's transaction holds the write lock from its start (``BEGIN
  IMMEDIATE``), so nobody else can insert meanwhile: the next ids are simply after the largest
  in use (for ``entry_signals``, also after the largest ever handed out: its ids must never be
  reused, migration 0011). Rows go in with ``executemany`` of plain tuples.
* **PostgreSQL**: ids come from the tables' own sequences (``nextval`` over
  ``generate_series``, safe beside concurrent writers), rows go in with ``COPY``.

Either way the values stored are those the ORM would store (the timestamp column's own bind
processor gives its stored form).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from hashwall.service.import_parse import EntryRow
from hashwall.service.live_index import gc_paused
from hashwall.service.records import SignalValues
from hashwall.store import Entry, EntrySignal, EntryState

ENTRY_COLUMNS = (
    "id", "bank_id", "state", "content_type", "label", "source", "case_ref", "metadata",
    "import_job_id", "created_at", "updated_at",
)  # fmt: skip
SIGNAL_COLUMNS = ("id", "entry_id", "signal_type", "variant", "value", "value_key", "quality")
#: Entries written per statement (and between two yields of the GIL to request threads).
DEFAULT_CHUNK = 20_000
#: ``metadata`` of an imported entry: the JSON text both databases store for ``{}``.
_EMPTY_METADATA = json.dumps({})
#: SQLite page cache (KiB) of the connection while it writes a bulk import.
_SQLITE_CACHE_KIB = 256 * 1024


@dataclass(frozen=True, slots=True)
class EntryFields:
    """An entry's own state, source, case and metadata, where they differ from entry to
    entry (exchanges); imports use :class:`EntryDefaults` for all of them."""

    state: EntryState
    source: str
    case_ref: str
    metadata: dict[str, Any]


#: An :data:`EntryRow`, optionally followed by its own :class:`EntryFields`.
BulkRow = EntryRow | tuple[str, str, list[SignalValues], EntryFields]


@dataclass(frozen=True)
class EntryDefaults:
    """What every entry of one bulk write shares."""

    bank_id: int
    import_job_id: int | None
    source: str
    case_ref: str
    now: datetime


def write_entries(
    session: Session,
    rows: Iterable[BulkRow],
    defaults: EntryDefaults,
    *,
    chunk: int = DEFAULT_CHUNK,
    ids: list[int] | None = None,
) -> int:
    """Insert an entry per row (active, unless the row has its own fields), with its signal
    rows; returns how many entries, and appends their ids, in row order, to ``ids``.

    On SQLite the session's transaction should hold the write lock before this is called
    (``immediate=True``, or an earlier write): then nobody can take the ids meanwhile.
    Otherwise the ids are read from the transaction's snapshot, and if another connection
    committed since, SQLite refuses the first insert ("database is locked"): an error, never
    a reused id."""
    connection = session.connection()
    writer: _Writer = (
        _SqliteWriter(connection, defaults)
        if connection.dialect.name == "sqlite"
        else _PostgresWriter(connection, defaults)
    )
    count = 0
    # A million rows of tuples made the cyclic collector rescan the heap again and again.
    with gc_paused():
        try:
            for batch in _batches(rows, max(1, chunk)):
                written = writer.write(batch)
                if ids is not None:
                    ids.extend(written)
                count += len(batch)
                time.sleep(0)  # let request threads (matching) run between chunks
        finally:
            writer.close()
    return count


def _batches(rows: Iterable[BulkRow], size: int) -> Iterator[list[BulkRow]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _stored(connection: Connection, column: Any, value: Any) -> Any:
    """``value`` as the column's type stores it on this database (what the ORM would send)."""
    process = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    return process(value) if process is not None else value


class _Writer:
    def __init__(self, connection: Connection, defaults: EntryDefaults) -> None:
        table = Entry.__table__.c
        self.connection = connection
        self.entry_constants = (
            defaults.bank_id,
            EntryState.ACTIVE.value,
        )
        self.entry_texts = (
            defaults.source,
            defaults.case_ref,
            _EMPTY_METADATA,
            defaults.import_job_id,
        )
        stamp = _stored(connection, table.created_at, defaults.now)
        self.stamps = (stamp, stamp)

    def tuples(
        self, batch: Sequence[BulkRow], entry_ids: Sequence[int], signal_ids: Sequence[int]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The entries' and signals' column values (``ENTRY_COLUMNS``, ``SIGNAL_COLUMNS``)."""
        bank_id, state = self.entry_constants
        source, case_ref, metadata, job_id = self.entry_texts
        created, updated = self.stamps
        entries = [
            (entry_id, bank_id, state, row[0], row[1], source, case_ref, metadata, job_id,
             created, updated)
            if len(row) == 3
            else self._own(entry_id, row)
            for entry_id, row in zip(entry_ids, batch, strict=True)
        ]  # fmt: skip
        next_signal = iter(signal_ids)
        signals = [
            (next(next_signal), entry_id, signal_type, variant, value, value[:64], quality)
            for entry_id, row in zip(entry_ids, batch, strict=True)
            for signal_type, variant, value, quality in row[2]
        ]
        return entries, signals

    def _own(self, entry_id: int, row: BulkRow) -> tuple[Any, ...]:
        """An entry row with its own fields (``row`` has four items)."""
        fields: EntryFields = row[3]  # type: ignore[misc]
        bank_id, _state = self.entry_constants
        _source, _case, _metadata, job_id = self.entry_texts
        created, updated = self.stamps
        return (
            entry_id, bank_id, fields.state.value, row[0], row[1], fields.source,
            fields.case_ref, json.dumps(fields.metadata), job_id, created, updated,
        )  # fmt: skip

    def write(self, batch: Sequence[BulkRow]) -> Sequence[int]:
        """Insert the batch; returns the entries' ids."""
        raise NotImplementedError

    def close(self) -> None:
        """Undo any connection setting made for the bulk write (the connection is pooled)."""


class _SqliteWriter(_Writer):
    def __init__(self, connection: Connection, defaults: EntryDefaults) -> None:
        super().__init__(connection, defaults)
        self.next_entry = self._after(f"SELECT max(id) FROM {Entry.__tablename__}")
        self.next_signal = max(
            self._after(f"SELECT max(id) FROM {EntrySignal.__tablename__}"),
            self._after(
                f"SELECT max(seq) FROM sqlite_sequence WHERE name = '{EntrySignal.__tablename__}'"
            ),
        )
        # Index pages of random hashes are touched all over: SQLite's default 2 MB page cache
        # made every insert a read, halving the rate. Restored by close().
        self.cache_size = self.connection.exec_driver_sql("PRAGMA cache_size").scalar()
        self.connection.exec_driver_sql(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
        self.insert_entries = _insert_sql(Entry.__tablename__, ENTRY_COLUMNS)
        self.insert_signals = _insert_sql(EntrySignal.__tablename__, SIGNAL_COLUMNS)

    def close(self) -> None:
        self.connection.exec_driver_sql(f"PRAGMA cache_size = {int(self.cache_size or -2000)}")

    def _after(self, query: str) -> int:
        return int(self.connection.execute(text(query)).scalar() or 0) + 1

    def write(self, batch: Sequence[BulkRow]) -> Sequence[int]:
        signal_count = sum(len(row[2]) for row in batch)
        entry_ids = range(self.next_entry, self.next_entry + len(batch))
        signal_ids = range(self.next_signal, self.next_signal + signal_count)
        self.next_entry += len(batch)
        self.next_signal += signal_count
        entries, signals = self.tuples(batch, entry_ids, signal_ids)
        self.connection.exec_driver_sql(self.insert_entries, entries)
        if signals:
            self.connection.exec_driver_sql(self.insert_signals, signals)
        return entry_ids


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"


class _PostgresWriter(_Writer):
    def __init__(self, connection: Connection, defaults: EntryDefaults) -> None:
        super().__init__(connection, defaults)
        driver = connection.connection.driver_connection
        assert driver is not None
        self.driver: Any = driver  # psycopg's connection, in the session's transaction
        self.sequences: dict[str, str] = {}
        self.copy_entries = _copy_sql(Entry.__tablename__, ENTRY_COLUMNS)
        self.copy_signals = _copy_sql(EntrySignal.__tablename__, SIGNAL_COLUMNS)

    def _ids(self, table: str, count: int) -> list[int]:
        """``count`` fresh ids of ``table``'s sequence, as one array value (a row per id
        cost four times as much to fetch)."""
        if not count:
            return []
        sequence = self.sequences.get(table)
        with self.driver.cursor() as cursor:
            if sequence is None:
                found = cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
                sequence = self.sequences[table] = str(found.fetchone()[0])
            query = "SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)"
            row = cursor.execute(query, (sequence, count)).fetchone()
        assert row is not None
        return list(row[0])

    def write(self, batch: Sequence[BulkRow]) -> Sequence[int]:
        signal_count = sum(len(row[2]) for row in batch)
        entry_ids = self._ids(Entry.__tablename__, len(batch))
        signal_ids = self._ids(EntrySignal.__tablename__, signal_count)
        entries, signals = self.tuples(batch, entry_ids, signal_ids)
        with self.driver.cursor() as cursor:
            with cursor.copy(self.copy_entries) as copy:
                for row in entries:
                    copy.write_row(row)
            if signals:
                with cursor.copy(self.copy_signals) as copy:
                    for row in signals:
                        copy.write_row(row)
        return entry_ids


def _copy_sql(table: str, columns: Sequence[str]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"
