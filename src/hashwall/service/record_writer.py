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

import fcntl
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hashwall.hashing.record import HashRecord
from hashwall.service.actions.dispatch import REVIEW, WEBHOOK, actions_of, on_new_records
from hashwall.service.actions.flood import check_flood
from hashwall.service.actions.queries import signals_json
from hashwall.service.errors import ApiError
from hashwall.store import ChangeKind, MatchRecord

#: A match record's column values, as the match routes build them.
MatchRow = dict[str, Any]

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service")

#: Requests written per transaction at most (a few thousand records).
MAX_BATCH = 256
#: Requests waiting for the writer before new ones are refused with a 503.
MAX_PENDING = 4096
#: Under load, how long a batch waits for more requests: measured on 2 workers and a 1M
#: bank, 2 ms took 11-16 % off the server's CPU per request at a cost of <= 2 ms latency.
LINGER_SECONDS = 0.002


@dataclass
class PendingWrite:
    """One request's records (column values); ``details["query"]`` indexes ``queries``."""

    records: list[MatchRow]
    queries: Sequence[HashRecord]
    done: Future[None] = field(default_factory=Future)


@dataclass(frozen=True)
class Written:
    quarantined: list[int]  # entries flood quarantine took out of matching (committed)
    webhooks: bool  # whether a bank of these records calls webhooks (deliveries may be due)


def write_records(state: ServiceState, pending: Sequence[PendingWrite]) -> Written:
    """Store the records of several requests and their actions in one transaction.

    Records of banks without actions (the common case) are one plain multi-row INSERT;
    ORM objects are made only when review items or webhook deliveries need the record ids.
    The caller must publish the quarantined entries before any of these requests answers.
    """
    rows = [row for write in pending for row in write.records]
    if not rows:
        return Written([], False)
    actions = {}
    for bank_id in {row["bank_id"] for row in rows}:
        bank = state.index.banks.get(bank_id)
        actions[bank_id] = actions_of(bank.action if bank is not None else None)
    with _writers_queue(state), state.db.session() as session:
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


@contextmanager
def _writers_queue(state: ServiceState) -> Iterator[None]:
    """On SQLite, the record writers of all workers take turns on an ``flock``.

    Why: SQLite lets one transaction write at a time, and a writer that finds the database
    locked sleeps and polls (1, 2, 5, 10, ... ms), so two workers committing every few ms
    kept colliding: p99 of matching requests went from ~30 ms with one worker to ~500 ms
    with two. A blocked ``flock`` instead wakes the moment the other writer commits.
    PostgreSQL locks rows, not the database: nothing to do there.
    """
    database = state.db.engine.url.database if state.db.is_sqlite else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.record-writers.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class RecordWriter:
    """The writer thread of one worker; :meth:`submit` from any thread or the event loop."""

    def __init__(self, state: ServiceState, max_pending: int = MAX_PENDING) -> None:
        self.state = state
        self._queue: queue.Queue[PendingWrite | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="hashwall-records", daemon=True)
        self._closed = False
        self.batches = 0  # transactions committed (tests and benchmarks read these)
        self.requests = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write everything already queued, then end the thread."""
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=60)

    def submit(self, records: list[MatchRow], queries: Sequence[HashRecord]) -> Future[None]:
        """Queue one request's records; the future completes once they are committed
        (writes queued before :meth:`start` go in its first transaction)."""
        write = PendingWrite(records, queries)
        if self._closed:
            raise ApiError(503, "the server is shutting down; retry", None, {"Retry-After": "1"})
        try:
            self._queue.put_nowait(write)
        except queue.Full:
            raise ApiError(
                503,
                "too many match records waiting to be stored; retry",
                None,
                {"Retry-After": "1"},
            ) from None
        return write.done

    def _run(self) -> None:
        previous = 0
        stopping = False
        while not stopping:
            batch, stopping = self._collect(LINGER_SECONDS if previous > 1 else 0.0)
            previous = len(batch)
            if batch:
                self._write(batch)

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
            written = write_records(self.state, batch)
        except Exception:
            if len(batch) > 1:
                log.warning("a batch of match records failed; retrying request by request")
                for write in batch:
                    self._write([write])
                return
            log.exception("storing match records failed")
            _resolve(batch[0].done, RuntimeError("the match records could not be stored"))
            return
        self._finish(batch, written)

    def _finish(self, batch: list[PendingWrite], written: Written) -> None:
        """Make the committed batch visible here, then release the waiting requests."""
        self.batches += 1
        self.requests += len(batch)
        try:
            for entry_id in written.quarantined:  # stops matching here before callers hear
                self.state.publish(ChangeKind.ENTRY, entry_id)
            if written.webhooks:  # waking the sender costs it a query: only when useful
                self.state.actions_enqueued()
        except Exception:  # committed: the change-log tailer applies it within a poll
            log.exception("applying a flood quarantine to this worker's index failed")
        for write in batch:
            _resolve(write.done, None)


def _resolve(done: Future[None], error: Exception | None) -> None:
    """Complete a request's future; a request whose client went away has cancelled it."""
    try:
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
    except InvalidStateError:
        pass
