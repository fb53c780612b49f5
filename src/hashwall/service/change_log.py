"""Keep several worker processes' indexes consistent by tailing the ``changes`` table.

Every write that alters what matches appends a change row in its own transaction. Each worker
polls for rows above its *watermark* (every ``change_poll_seconds``, at most 1 s) and converges
the affected entries, banks or imports from the database.

PostgreSQL hands out sequence values before commit, so a row with a lower id can become
visible after a higher one. The tailer therefore keeps the ids it has seen above the watermark
and only moves the watermark over a missing id once the gap is older than ``gap_timeout``
(a rolled-back transaction leaves a permanent gap). Re-applying a change is harmless: syncing
reads the current state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashwall.service.catalog_index import CatalogIndex
from hashwall.service.live_index import LiveIndex
from hashwall.store import Change, ChangeKind, Database

log = logging.getLogger("hashwall.service.changes")

_BATCH = 5000


def latest_change_id(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.coalesce(func.max(Change.id), 0))) or 0)


class ChangeTailer:
    def __init__(
        self,
        db: Database,
        index: LiveIndex,
        *,
        start_after: int,
        poll_seconds: float,
        gap_timeout: float = 10.0,
        catalog: CatalogIndex | None = None,
    ) -> None:
        self.db = db
        self.index = index
        self.catalog = catalog
        self.poll_seconds = poll_seconds
        self.gap_timeout = gap_timeout
        self.watermark = start_after
        self._seen: set[int] = set()
        self._gap_since: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Called with the ids of changed entries, after the index has synced them.
        self.entry_listeners: list[Callable[[Session, list[int]], None]] = []

    def poll_once(self) -> int:
        """Apply every change newer than the watermark; returns how many rows were read."""
        with self.db.session() as session:
            rows = session.execute(
                select(Change.id, Change.kind, Change.target_id)
                .where(Change.id > self.watermark)
                .order_by(Change.id)
                .limit(_BATCH)
            ).all()
            fresh = [row for row in rows if row.id not in self._seen]
            entries = [r.target_id for r in fresh if r.kind == ChangeKind.ENTRY]
            for bank_id in {r.target_id for r in fresh if r.kind == ChangeKind.BANK}:
                self.index.sync_bank(session, bank_id)
            for job_id in {r.target_id for r in fresh if r.kind == ChangeKind.IMPORT}:
                self.index.sync_import(session, job_id)
            if entries:
                self.index.sync_entries(session, entries)
                for listener in self.entry_listeners:  # e.g. likeness templates in memory
                    listener(session, entries)
            if self.catalog is not None:
                items = [r.target_id for r in fresh if r.kind == ChangeKind.CATALOG]
                imports = {r.target_id for r in fresh if r.kind == ChangeKind.CATALOG_IMPORT}
                for import_id in imports:
                    self.catalog.sync_import(session, import_id)
                if items:
                    self.catalog.sync_items(session, items)
        self._seen.update(row.id for row in fresh)
        self._advance()
        return len(rows)

    def _advance(self) -> None:
        while self._seen:
            if self.watermark + 1 in self._seen:
                self._seen.discard(self.watermark + 1)
                self.watermark += 1
                self._gap_since = None
                continue
            now = time.monotonic()
            if self._gap_since is None:
                self._gap_since = now
            if now - self._gap_since < self.gap_timeout:
                return
            # A rolled-back (or never committed) change id: skip it.
            self.watermark += 1
            self._gap_since = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                read = self.poll_once()
            except Exception:  # the database may be restarting; keep tailing
                log.exception("reading the change log failed; retrying")
                read = 0
            if read < _BATCH:
                self._stop.wait(self.poll_seconds)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="hashwall-change-tailer", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
