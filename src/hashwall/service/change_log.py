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
from collections.abc import Callable, Sequence

from sqlalchemy import Row, func, select

from hashwall.service.catalog_index import CatalogIndex
from hashwall.service.live_index import LiveIndex
from hashwall.store import Change, ChangeKind, Database

log = logging.getLogger("hashwall.service.changes")

_BATCH = 5000


def latest_change_id(db: Database) -> int:
    with db.session(readonly=True) as session:
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
        self.entry_listeners: list[Callable[[Database, list[int]], None]] = []

    def poll_once(self) -> int:
        """Apply every change newer than the watermark; returns how many rows were read."""
        rows = self._read_changes()
        fresh = [row for row in rows if row.id not in self._seen]
        self._apply(fresh)
        self._seen.update(row.id for row in fresh)
        self._advance()
        return len(rows)

    def _read_changes(self) -> Sequence[Row[int, ChangeKind, int]]:
        with self.db.session(readonly=True) as session:
            return session.execute(
                select(Change.id, Change.kind, Change.target_id)
                .where(Change.id > self.watermark)
                .order_by(Change.id)
                .limit(_BATCH)
            ).all()

    def _apply(self, changes: Sequence[Row[int, ChangeKind, int]]) -> None:
        """Converge what these changes name. The indexes read the database themselves, in a
        transaction begun under their locks (not in the one that read the log, which may
        predate a change this worker has already applied); entries named directly and through
        imports are synced together, so removals precede additions."""

        def targets(kind: ChangeKind) -> list[int]:
            return sorted({row.target_id for row in changes if row.kind == kind})

        for bank_id in targets(ChangeKind.BANK):
            self.index.sync_bank(self.db, bank_id)
        entries = targets(ChangeKind.ENTRY)
        imports = targets(ChangeKind.IMPORT)
        if entries or imports:
            self.index.sync(self.db, entry_ids=entries, import_jobs=imports)
        if entries:
            for listener in self.entry_listeners:  # e.g. likeness templates in memory
                listener(self.db, entries)
        items = targets(ChangeKind.CATALOG)
        catalog_imports = targets(ChangeKind.CATALOG_IMPORT)
        if self.catalog is not None and (items or catalog_imports):
            self.catalog.sync(self.db, item_ids=items, imports=catalog_imports)

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
