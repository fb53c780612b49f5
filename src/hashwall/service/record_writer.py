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
writes many per commit.

A batch that fails is retried request by request, so one bad request (say, a bank deleted
between its match and its write) fails alone. When the queue is full the request gets a 503
rather than an unbounded backlog.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hashwall.hashing.record import HashRecord
from hashwall.service.actions.dispatch import REVIEW, WEBHOOK, actions_of, on_new_records
from hashwall.service.actions.queries import signals_json
from hashwall.service.errors import ApiError
from hashwall.store import ChangeKind, MatchRecord

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service")

#: Requests written per transaction at most (a few thousand records).
MAX_BATCH = 256
#: Requests waiting for the writer before new ones are refused with a 503.
MAX_PENDING = 4096


@dataclass
class PendingWrite:
    """One request's records; ``details["query"]`` of each indexes ``queries``."""

    records: list[MatchRecord]
    queries: Sequence[HashRecord]
    done: Future[None] = field(default_factory=Future)


@dataclass(frozen=True)
class Written:
    quarantined: list[int]  # entries flood quarantine took out of matching (committed)
    webhooks: bool  # whether a bank of these records calls webhooks (deliveries may be due)


def write_records(state: ServiceState, pending: Sequence[PendingWrite]) -> Written:
    """Store the records of several requests and their actions in one transaction.

    The caller must publish the quarantined entries before any of these requests answers.
    """
    records = [record for write in pending for record in write.records]
    if not records:
        return Written([], False)
    actions = {}
    for bank_id in {record.bank_id for record in records}:
        bank = state.index.banks.get(bank_id)
        actions[bank_id] = actions_of(bank.action if bank is not None else None)
    with state.db.session() as session:
        session.add_all(records)
        session.flush()
        signals = {}
        for write in pending:
            for record in write.records:
                if write.queries and REVIEW in actions[record.bank_id]:
                    signals[record.id] = signals_json(write.queries[record.details["query"]])
        quarantined = on_new_records(state, session, records, signals)
    return Written(quarantined, any(WEBHOOK in wanted for wanted in actions.values()))


class RecordWriter:
    """The writer thread of one worker; :meth:`submit` from any thread or the event loop."""

    def __init__(self, state: ServiceState, max_pending: int = MAX_PENDING) -> None:
        self.state = state
        self._queue: queue.Queue[PendingWrite | None] = queue.Queue(max_pending)
        self._thread = threading.Thread(target=self._run, name="hashwall-records", daemon=True)
        self.batches = 0  # transactions committed (tests and benchmarks read these)
        self.requests = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write everything already queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=60)

    def submit(self, records: list[MatchRecord], queries: Sequence[HashRecord]) -> Future[None]:
        """Queue one request's records; the future completes once they are committed."""
        write = PendingWrite(records, queries)
        if not self._thread.is_alive():
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
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[PendingWrite] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    batch.append(more)
            if batch:
                self._write(batch)

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
