"""Match records stored by one writer thread per worker, many requests per transaction.

Why: a match request used to open its own transaction, insert its records, enqueue their
actions, count flood items and commit, all on a thread-pool thread. Under load that is one
commit (and one write lock, on SQLite) per matching request, and the requests fight over the
GIL and the lock. Here requests hand their records to a bounded queue; one thread takes
whatever has queued up, writes it in **one** transaction (records, review items, webhook
deliveries, flood quarantine: the same :func:`on_new_records` as before) and commits.

Durability is unchanged (group commit): a request still waits for the commit of its records
before it answers, so a client that was told "matched" can rely on the match record, its
review item and its webhook delivery being stored, and a flooded entry being quarantined in
this worker, exactly as before. A crash loses only records of requests that had not been
answered yet. The batch forms by itself: while one transaction commits, the next requests
queue up, so an idle server still writes each request at once (no added delay) and a busy one
writes many per commit; under load a batch also waits up to :data:`LINGER_SECONDS` for more.

A batch that fails is retried request by request, so one bad request (say, a bank deleted
between its match and its write) fails alone. When the queue is full the request gets a 503
rather than an unbounded backlog.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Dialect, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from hashwall.hashing.record import HashRecord
from hashwall.service.actions.dispatch import REVIEW, WEBHOOK, bank_actions, on_new_records
from hashwall.service.actions.flood import ACTIVE_COUNTS, WINDOW, check_flood, flood_limit
from hashwall.service.actions.queries import signals_json
from hashwall.service.errors import ApiError
from hashwall.store import ChangeKind, MatchRecord
from hashwall.store.models import utcnow

#: A match record's column values, as the match routes build them.
MatchRow = dict[str, Any]

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service")

#: A kept connection idle longer than this is pinged before its next batch.
_PING_AFTER_IDLE_SECONDS = 1.0
#: Requests written per transaction at most (a few thousand records).
MAX_BATCH = 256
#: Requests waiting for the writer before new ones are refused with a 503.
MAX_PENDING = 4096
#: Under load, how long a batch waits for more requests: measured on 2 workers and a 1M
#: bank, 2 ms took 11-16 % off the server's CPU per request at a cost of <= 2 ms latency.
LINGER_SECONDS = 0.002
#: On SQLite the event loop commits plain batches itself (:class:`_LoopWriter`); while the
#: other workers' writer holds the lock it tries again this often, for this long, before
#: handing the batch to the writer thread.
LOOP_RETRY_SECONDS = 0.0005
LOOP_WAIT_SECONDS = 2.0


@dataclass
class PendingWrite:
    """One request's records (column values); ``details["query"]`` indexes ``queries``.

    A request on an event loop waits on ``waiter`` (completed on its loop, one hand-off per
    batch); any other caller waits on ``done``."""

    records: list[MatchRow]
    queries: Sequence[HashRecord]
    done: Future[None] | None = None
    waiter: asyncio.Future[None] | None = None
    checkpoint: bool = False  # not a request: the loop asks the thread for a WAL checkpoint


@dataclass(frozen=True)
class Written:
    quarantined: list[int]  # entries flood quarantine took out of matching (committed)
    webhooks: bool  # whether a bank of these records calls webhooks (deliveries may be due)


def write_records(
    state: ServiceState, pending: Sequence[PendingWrite], plain: _PlainWriter | None = None
) -> Written:
    """Store the records of several requests and their actions in one transaction.

    Records of banks without actions (the common case) are one multi-row INSERT, on the
    DB-API cursor when ``plain`` is given (see :class:`_PlainWriter`); ORM objects are made
    only when review items or webhook deliveries need the record ids, or an entry floods.
    The caller must publish the quarantined entries before any of these requests answers.
    """
    rows = [row for write in pending for row in write.records]
    if not rows:
        return Written([], False)
    actions = {}
    for bank_id in {row["bank_id"] for row in rows}:
        actions[bank_id] = bank_actions(state.index.banks.get(bank_id))
    with _writers_queue(state, plain):
        if plain is not None and not any(actions.values()) and plain.write(rows):
            return Written([], False)
        with state.db.session() as session:
            if any(actions.values()):
                quarantined = _with_actions(state, session, pending, actions)
            else:
                session.connection().execute(insert(MatchRecord), rows)
                quarantined = check_flood(state, session, {row["entry_id"] for row in rows})
    return Written(quarantined, any(WEBHOOK in wanted for wanted in actions.values()))


def _with_actions(
    state: ServiceState,
    session: Session,
    pending: Sequence[PendingWrite],
    actions: dict[int, frozenset[str]],
) -> list[int]:
    """Records as ORM objects, so their review items and webhook deliveries get their ids."""
    written = [(write, [MatchRecord(**row) for row in write.records]) for write in pending]
    records = [record for _write, objects in written for record in objects]
    session.add_all(records)
    session.flush()
    signals = {}
    for write, objects in written:
        for record in objects:
            if write.queries and REVIEW in actions[record.bank_id]:
                signals[record.id] = signals_json(write.queries[record.details["query"]])
    return on_new_records(state, session, records, signals)


class _Statement:
    """A Core statement compiled once for a dialect, run straight on a DB-API cursor.

    ``expanding`` names a list parameter (``IN (...)``) whose placeholders are written per
    length. Values go through the same bind processors SQLAlchemy would apply."""

    def __init__(self, compiled: SQLCompiler, dialect: Dialect, expanding: str = "") -> None:
        self.sql = compiled.string
        self.dialect = dialect
        self.expanding = expanding
        self.positional = dialect.paramstyle == "qmark"
        self.names: list[str] = list(getattr(compiled, "positiontup", None) or compiled.binds)
        self.fixed = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if bind.value is not None or bind.callable is not None
        }
        self.processors: dict[str, Callable[[Any], Any] | None] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        self._by_length: dict[int, str] = {}

    def _value(self, name: str, values: Mapping[str, Any]) -> Any:
        value = values[name] if name in values else self.fixed[name]
        processor = self.processors[name]
        return value if processor is None else processor(value)

    def sql_for(self, length: int) -> str:
        sql = self._by_length.get(length)
        if sql is None:
            marker = f"(__[POSTCOMPILE_{self.expanding}])"
            if self.positional:
                inner = ", ".join("?" * length)
            else:
                inner = ", ".join(f"%({self.expanding}_{i})s" for i in range(length))
            sql = self._by_length[length] = self.sql.replace(marker, f"({inner})")
        return sql

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.positional:
            flat: list[Any] = []
            for name in self.names:
                if name == self.expanding:
                    flat.extend(values[name])
                else:
                    flat.append(self._value(name, values))
            return tuple(flat)
        named = {}
        for name in self.processors:
            if name == self.expanding:
                named.update({f"{name}_{i}": v for i, v in enumerate(values[name])})
            else:
                named[name] = self._value(name, values)
        return named


#: Rows per multi-row INSERT on SQLite (13 values each, far below SQLite's 32,766 limit).
_ROWS_PER_INSERT = 64

#: The columns the match routes fill (``MatchRow``), plus ``created_at``.
_COLUMNS = (
    "request_id",
    "api_key_id",
    "query_kind",
    "query_label",
    "bank_id",
    "entry_id",
    "signal_type",
    "distance",
    "query_variant",
    "details",
    "query_key",
)


class _PlainWriter:
    """Records of banks without actions, written with the DB-API directly.

    Why: SQLAlchemy's session, ORM execution and result machinery cost more CPU per batch
    than SQLite's own work (profiled: about a third of the writer thread). Here the INSERT and
    the flood count are compiled once and run on a DB-API connection (kept by the writer
    thread, see :meth:`write`) in one transaction: the same statements, values (through
    SQLAlchemy's bind processors: JSON, timestamps, enums) and commit as the ORM path. When
    an entry crosses its flood threshold (rare) the transaction is rolled back and
    :func:`write_records` takes the ORM path, which quarantines it exactly as before.
    """

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        engine = state.db.engine
        dialect = engine.dialect
        if dialect.paramstyle not in ("qmark", "pyformat"):
            raise ValueError(f"paramstyle {dialect.paramstyle} is not supported")
        columns = [*_COLUMNS, "created_at"]
        compiled = insert(MatchRecord).compile(dialect=dialect, column_keys=columns)
        counts = ACTIVE_COUNTS.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler) and isinstance(counts, SQLCompiler)
        self.insert = _Statement(compiled, dialect)
        self.counts = _Statement(counts, dialect, "ids")
        self.sqlite = state.db.is_sqlite
        self.lock_file: IO[bytes] | None = None
        self.batches = 0  # batches committed here (tests read it)
        self._multi_row: dict[int, str] = {}  # rows per INSERT -> its SQL (SQLite)
        self._raw: Any = None  # the writer thread's connection, kept between batches
        self._used_at = 0.0  # when it last committed (monotonic seconds)

    def write(self, rows: list[MatchRow]) -> bool:
        """Insert ``rows`` and commit, unless the batch floods an entry (then ``False``:
        nothing was written). Called by the writer thread only.

        The connection is kept from batch to batch. Why: checking one out of the pool per
        batch cost PostgreSQL's pre-ping, a round trip of its own, every time: a quarter of
        the writer thread's time under load (profiled). A kept connection is pinged only
        after it sat idle (when a restarted server may have dropped it), and one that failed
        is discarded: the next batch takes a fresh one from the pool."""
        raw = self._connection()
        try:
            written = self.transaction(raw, rows)
        except BaseException:
            self.close(failed=True)
            raise
        self._used_at = time.monotonic()
        return written

    def _connection(self) -> Any:
        raw = self._raw
        if raw is not None and time.monotonic() - self._used_at > _PING_AFTER_IDLE_SECONDS:
            try:
                cursor = raw.cursor()
                cursor.execute("SELECT 1")
                cursor.fetchall()
                raw.rollback()
            except Exception:
                self.close(failed=True)
                raw = None
        if raw is None:
            raw = self._raw = self.state.db.engine.raw_connection()
        return raw

    def close(self, *, failed: bool = False) -> None:
        """Give the kept connection back to the pool, or discard it when it ``failed``."""
        raw, self._raw = self._raw, None
        if raw is not None:
            with suppress(Exception):
                if failed:
                    raw.invalidate()  # a broken connection must not go back to the pool
                else:
                    raw.close()

    def _insert(self, cursor: Any, params: list[Any]) -> None:
        """All rows in as few statements as possible.

        Why: on SQLite, ``executemany`` steps the statement once per row and the driver
        releases and retakes the GIL at every step; on the writer thread each retake could
        wait out the event loop's switch interval (5 ms) while holding the writers' lock.
        One multi-row ``INSERT ... VALUES (...), (...)`` per :data:`_ROWS_PER_INSERT` rows
        is one step. PostgreSQL's driver pipelines ``executemany`` by itself.
        """
        if not self.sqlite or len(params) == 1:
            cursor.executemany(self.insert.sql, params)
            return
        for start in range(0, len(params), _ROWS_PER_INSERT):
            part = params[start : start + _ROWS_PER_INSERT]
            cursor.execute(self._multi_row_sql(len(part)), [v for row in part for v in row])

    def _multi_row_sql(self, rows: int) -> str:
        sql = self._multi_row.get(rows)
        if sql is None:
            head, _, values = self.insert.sql.partition(" VALUES ")
            sql = self._multi_row[rows] = f"{head} VALUES {', '.join([values] * rows)}"
        return sql

    def transaction(self, raw: Any, rows: list[MatchRow]) -> bool:
        """:meth:`write` on a given DB-API connection; rolls back on any error."""
        if any(row.keys() != _ROW_KEYS for row in rows):
            return False  # a caller with other columns: the ORM path knows them all
        now = utcnow()
        params: list[Any] = [self.insert.params({**row, "created_at": now}) for row in rows]
        entry_ids = sorted({row["entry_id"] for row in rows})
        try:
            cursor = raw.cursor()
            if self.sqlite:  # the connection autocommits: open the transaction (as db.py)
                cursor.execute("BEGIN")
            self._insert(cursor, params)
            since = now - WINDOW
            for start in range(0, len(entry_ids), 500):
                chunk = entry_ids[start : start + 500]
                cursor.execute(
                    self.counts.sql_for(len(chunk)),
                    self.counts.params({"ids": chunk, "since": since}),
                )
                for _entry_id, bank_threshold, source, count in cursor.fetchall():
                    if count > flood_limit(self.state.settings, bank_threshold, source):
                        raw.rollback()
                        return False
            raw.commit()
            self.batches += 1
            return True
        except BaseException:
            raw.rollback()
            raise


class _LoopWriter:
    """SQLite only: a batch of plain records committed on the event loop itself, when that
    cannot block it.

    Why: the writer thread costs every matching request two GIL hand-offs and the writer's
    SQLite calls each release and retake the GIL while the loop runs (profiled: the writer
    thread mostly waiting for the GIL; the loop thread forced off it every few ms). A plain
    batch is ~50-150 us of SQLite work (WAL, no fsync per commit), so the loop does it
    itself, but only when it need not wait: the writers' ``flock`` is tried without
    blocking, the connection has no busy timeout (another process's write transaction, say
    a bulk import, makes it fail at once) and never checkpoints (the writer thread does, off
    the loop). Whatever it cannot write at once - the lock taken, the database busy, an entry
    crossing its flood threshold, any error - goes to the writer thread as before. The
    answer still waits for the commit.
    """

    #: Seconds between WAL checkpoints requested from the writer thread.
    CHECKPOINT_SECONDS = 1.0

    def __init__(self, plain: _PlainWriter, lock_path: str) -> None:
        self.plain = plain
        raw = plain.state.db.engine.raw_connection()
        raw.detach()  # its settings below must not leak back into the pool
        cursor = raw.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
        self.raw = raw
        self.lock_file: IO[bytes] = open(lock_path, "a+b")  # noqa: SIM115
        self.batches = 0
        self.last_checkpoint = time.monotonic()

    def try_write(self, rows: list[MatchRow]) -> bool | None:
        """Commit ``rows`` now: ``True``; ``None`` if that would mean waiting (the lock or
        the database is taken), ``False`` if the writer thread must do it; nothing is
        written unless ``True``."""
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            written = self.plain.transaction(self.raw, rows)
        except sqlite3.OperationalError as error:  # busy: another process writes
            return None if "locked" in str(error) or "busy" in str(error) else False
        except Exception:  # a real error: the writer thread retries and reports it
            return False
        finally:
            fcntl.flock(self.lock_file, fcntl.LOCK_UN)
        if written:
            self.batches += 1
        return written

    def close(self) -> None:
        self.raw.close()
        self.lock_file.close()


_ROW_KEYS = frozenset(_COLUMNS)


@contextmanager
def _writers_queue(state: ServiceState, plain: _PlainWriter | None = None) -> Iterator[None]:
    """On SQLite, the record writers of all workers take turns on an ``flock``.

    Why: SQLite lets one transaction write at a time, and a writer that finds the database
    locked sleeps and polls (1, 2, 5, 10, ... ms), so two workers committing every few ms
    kept colliding: p99 of matching requests went from ~30 ms with one worker to ~500 ms
    with two. A blocked ``flock`` instead wakes the moment the other writer commits.
    PostgreSQL locks rows, not the database: nothing to do there. The writer thread keeps
    its lock file open (``plain.lock_file``) rather than opening it per batch.
    """
    database = state.db.engine.url.database if state.db.is_sqlite else None
    if not database or database == ":memory:":
        yield
        return
    handle = plain.lock_file if plain is not None else None
    if handle is None:
        handle = open(f"{database}.record-writers.lock", "a+b")  # noqa: SIM115
        if plain is not None:
            plain.lock_file = handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        if plain is None:
            handle.close()


class RecordWriter:
    """The writer thread of one worker; :meth:`submit` from any thread or the event loop."""

    def __init__(self, state: ServiceState, max_pending: int = MAX_PENDING) -> None:
        self.state = state
        self._queue: queue.Queue[PendingWrite | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="hashwall-records", daemon=True)
        self._closed = False
        self._plain: _PlainWriter | None = None
        self._loop_writer: _LoopWriter | None = None
        self._loop_batch: list[PendingWrite] = []
        self._loop_flush_due = False  # a flush of _loop_batch is scheduled on the loop
        self._loop_busy_since: float | None = None  # first failed try since the last commit
        self.batches = 0  # transactions committed (tests and benchmarks read these)
        self.requests = 0

    @property
    def plain_batches(self) -> int:
        """Batches committed on the DB-API path (the rest took the ORM path)."""
        return 0 if self._plain is None else self._plain.batches

    @property
    def loop_batches(self) -> int:
        """Batches the event loop committed itself (:class:`_LoopWriter`)."""
        return 0 if self._loop_writer is None else self._loop_writer.batches

    def start(self) -> None:
        try:
            self._plain = _PlainWriter(self.state)
        except Exception:  # an unusual driver: every batch takes the ORM path
            log.warning("match records: no DB-API fast path for this database", exc_info=True)
        self._thread.start()
        database = self.state.db.engine.url.database if self.state.db.is_sqlite else None
        if self._plain is not None and database and database != ":memory:":
            try:
                self._loop_writer = _LoopWriter(self._plain, f"{database}.record-writers.lock")
            except Exception:
                log.warning("match records: the event loop will not write them", exc_info=True)

    def stop(self) -> None:
        """Write everything already queued, then end the thread."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=60)
        if self._plain is not None:
            self._plain.close()
            if self._plain.lock_file is not None:
                self._plain.lock_file.close()
                self._plain.lock_file = None
        if self._loop_writer is not None:
            self._loop_writer.close()
            self._loop_writer = None

    def submit(self, records: list[MatchRow], queries: Sequence[HashRecord]) -> Future[None]:
        """Queue one request's records; the future completes once they are committed
        (writes queued before :meth:`start` go in its first transaction)."""
        done: Future[None] = Future()
        self._put(PendingWrite(records, queries, done=done))
        return done

    def submit_async(
        self, records: list[MatchRow], queries: Sequence[HashRecord]
    ) -> asyncio.Future[None]:
        """:meth:`submit` for a request on the running event loop: its future completes on
        that loop, the writer waking the loop once per batch rather than once per request."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        write = PendingWrite(records, queries, waiter=waiter)
        if self._loop_writer is not None and not self._closed and self._plain_rows(records):
            if len(self._loop_batch) >= MAX_PENDING:
                raise _backlog_full()
            self._loop_batch.append(write)  # the batch: what queues until the flush runs
            self._schedule_loop_flush(0.0)
            return waiter
        self._put(write)
        return waiter

    def _plain_rows(self, records: list[MatchRow]) -> bool:
        """Whether these records need no ORM: banks without actions, the usual columns."""
        banks = self.state.index.banks
        for row in records:
            bank = banks.get(row["bank_id"])
            if row.keys() != _ROW_KEYS or bank is None or bank_actions(bank):
                return False
        return True

    def _flush_loop_batch(self) -> None:
        """On the event loop: commit what the loop's requests queued (up to
        :data:`MAX_BATCH` requests per transaction).

        While another worker writes (the writers' lock or the database is taken) the batch
        stays queued here and the loop tries again every :data:`LOOP_RETRY_SECONDS`, for up to
        :data:`LOOP_WAIT_SECONDS`: the other writer is usually done within a millisecond.
        Why not hand it to the writer thread at once, as before: that thread holds the lock
        while it waits for the GIL the busy loop holds (up to the 5 ms switch interval per
        SQLite call), so each hand-off stalled both workers' commits for several ms - the
        slowest 1-10 % of matching requests (docs/service.md "Performance"). A batch that
        cannot be written at all (an error, an entry crossing its flood threshold) or has
        waited too long still goes to the thread.
        """
        self._loop_flush_due = False
        batch, self._loop_batch = self._loop_batch[:MAX_BATCH], self._loop_batch[MAX_BATCH:]
        if not batch:
            return
        writer = self._loop_writer
        written = (
            False if writer is None else writer.try_write([r for w in batch for r in w.records])
        )
        if written and writer is not None:
            self._loop_busy_since = None
            self.batches += 1
            self.requests += len(batch)
            _settle([w.waiter for w in batch if w.waiter is not None], None)
            self._maybe_checkpoint(writer)
            if self._loop_batch:
                self._schedule_loop_flush(0.0)
            return
        if written is None and not self._closed and self._still_patient():
            self._loop_batch[:0] = batch  # ahead of what queued meanwhile
            self._schedule_loop_flush(LOOP_RETRY_SECONDS)
            return
        self._loop_busy_since = None
        for write in batch:
            try:
                self._put(write)
            except ApiError as error:
                _settle([write.waiter] if write.waiter is not None else [], error)
        if self._loop_batch:
            self._schedule_loop_flush(0.0)

    def _still_patient(self) -> bool:
        """Whether the loop's writes have waited for the lock less than LOOP_WAIT_SECONDS."""
        now = time.monotonic()
        if self._loop_busy_since is None:
            self._loop_busy_since = now
        return now - self._loop_busy_since < LOOP_WAIT_SECONDS

    def _schedule_loop_flush(self, delay: float) -> None:
        """One pending flush per loop at a time: later requests join its batch."""
        if self._loop_flush_due:
            return
        self._loop_flush_due = True
        loop = asyncio.get_running_loop()
        if delay > 0:
            loop.call_later(delay, self._flush_loop_batch)
        else:
            loop.call_soon(self._flush_loop_batch)

    def _maybe_checkpoint(self, writer: _LoopWriter) -> None:
        """Ask the writer thread for a WAL checkpoint every CHECKPOINT_SECONDS."""
        now = time.monotonic()
        if now - writer.last_checkpoint > writer.CHECKPOINT_SECONDS:
            writer.last_checkpoint = now
            with suppress(queue.Full):
                self._queue.put_nowait(PendingWrite([], [], checkpoint=True))

    def _put(self, write: PendingWrite) -> None:
        if self._closed:
            raise ApiError(503, "the server is shutting down; retry", None, {"Retry-After": "1"})
        try:
            self._queue.put_nowait(write)
        except queue.Full:
            raise _backlog_full() from None

    def _run(self) -> None:
        previous = 0
        stopping = False
        while not stopping:
            batch, stopping = self._collect(LINGER_SECONDS if previous > 1 else 0.0)
            previous = len(batch)
            if any(write.checkpoint for write in batch):
                self._checkpoint()
                batch = [write for write in batch if not write.checkpoint]
            if batch:
                self._write(batch)

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file (the event loop's connection never does).

        A PASSIVE checkpoint never shortens the WAL: SQLite starts it over only when a writer
        finds every frame copied, and with two workers committing match records all the time
        another commit always landed during the copy. The WAL grew by ~20 MB per second of
        load (225 MB after 20 s at 1,000 matches a second) and would have filled the disk.
        So once it holds :data:`WAL_RESTART_FRAMES`, the checkpoint is repeated holding the
        record writers' lock: no record lands meanwhile, the remaining frames (well under a
        second's worth: a few ms, plus the file sync) are copied, and this thread then starts
        the WAL over itself (:func:`restart_wal`), still holding the lock. A TRUNCATE
        checkpoint would do it too but waits for readers while blocking writers (100-200 ms
        stalls, measured); this only holds up record commits, which the event loop retries.
        """
        try:
            raw = self.state.db.engine.raw_connection()
            try:
                frames, _copied = checkpoint_wal(raw)
                if frames >= WAL_RESTART_FRAMES:
                    with _writers_queue(self.state, self._plain):
                        frames, copied = checkpoint_wal(raw)
                        if frames == copied:
                            restart_wal(raw)
            finally:
                raw.close()
        except Exception:
            log.warning("WAL checkpoint failed", exc_info=True)

    def _collect(self, linger: float) -> tuple[list[PendingWrite], bool]:
        """The next batch (waiting for its first request), and whether to stop after it.

        Under load (the previous batch held several requests) it waits up to ``linger`` for
        more, since each transaction has a fixed cost; an idle server adds no delay.
        """
        first = self._queue.get()
        if first is None:
            return self._drain([]), True
        batch = [first]
        until = time.monotonic() + linger
        while len(batch) < MAX_BATCH:
            left = until - time.monotonic()
            try:
                more = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return self._drain(batch), True
            batch.append(more)
        return batch, False

    def _drain(self, batch: list[PendingWrite]) -> list[PendingWrite]:
        """Stopping: everything still queued goes into the last batch."""
        while True:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return batch
            if more is not None:
                batch.append(more)

    def _write(self, batch: list[PendingWrite]) -> None:
        try:
            written = write_records(self.state, batch, self._plain)
        except Exception as error:
            if len(batch) > 1:
                log.warning("a batch of match records failed; retrying request by request")
                for write in batch:
                    self._write([write])
                return
            log.exception("storing match records failed")
            failure = RuntimeError("the match records could not be stored")
            failure.__cause__ = error  # the answer says why: 503 database down, 507 disk full
            _release(batch, failure)
            return
        self._finish(batch, written)

    def _finish(self, batch: list[PendingWrite], written: Written) -> None:
        """Make the committed batch visible here, then release the waiting requests."""
        self.batches += 1
        self.requests += len(batch)
        try:
            for entry_id in written.quarantined:  # stops matching here before callers hear
                self.state.publish(ChangeKind.ENTRY, entry_id, removed=True)
            if written.webhooks:  # waking the sender costs it a query: only when useful
                self.state.actions_enqueued()
        except Exception:  # committed: the change-log tailer applies it within a poll
            log.exception("applying a flood quarantine to this worker's index failed")
        _release(batch, None)


#: WAL frames (4 KiB pages) above which a checkpoint makes the WAL start over (~32 MiB).
#: Below ``journal_size_limit`` (64 MiB) with room for a second of writes, so a steady load
#: never makes SQLite trim the WAL file (see :func:`restart_wal`).
WAL_RESTART_FRAMES = 8_192


def checkpoint_wal(raw: Any) -> tuple[int, int]:
    """One PASSIVE checkpoint: copy the WAL's frames into the database file, blocking no one;
    returns (frames in the WAL, frames copied)."""
    _busy, frames, copied = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames), int(copied)


def restart_wal(raw: Any) -> None:
    """Commit a one-page write, so that *this* connection starts the fully copied WAL over.

    Why: the first commit after a complete checkpoint restarts the WAL and, when the file
    has outgrown ``journal_size_limit``, truncates it. With the WAL restarted at 128 MiB and
    trimmed to 64 MiB, that commit was the event loop's next match record, and freeing
    ~70 MB of file (the disk is mounted with ``discard``) blocked the loop for 15-25 ms: the
    slow answers of the open-loop benchmark fell at those moments. Rewriting the database's
    ``user_version`` (unused by hashwall, written back unchanged) is the smallest write
    there is; the caller holds the record writers' lock, so the loops only retry meanwhile.
    """
    cursor = raw.cursor()
    (version,) = cursor.execute("PRAGMA user_version").fetchone()
    cursor.execute(f"PRAGMA user_version={int(version)}")
    raw.commit()


def _backlog_full() -> ApiError:
    return ApiError(
        503, "too many match records waiting to be stored; retry", None, {"Retry-After": "1"}
    )


def _release(batch: Sequence[PendingWrite], error: Exception | None) -> None:
    """Complete the requests' futures: thread callers' directly, and those on an event loop
    with one ``call_soon_threadsafe`` per loop (each costs a wake-up and a GIL hand-off)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for write in batch:
        if write.done is not None:
            _resolve(write.done, error)
        if write.waiter is not None:
            by_loop.setdefault(write.waiter.get_loop(), []).append(write.waiter)
    for loop, waiters in by_loop.items():
        with suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, waiters, error)


def _settle(waiters: Sequence[asyncio.Future[None]], error: Exception | None) -> None:
    """On the event loop: complete its requests' futures (a cancelled one is skipped)."""
    for waiter in waiters:
        if not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


def _resolve(done: Future[None], error: Exception | None) -> None:
    """Complete a request's future; a request whose client went away has cancelled it."""
    try:
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
    except InvalidStateError:
        pass
