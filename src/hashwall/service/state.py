"""What one worker process holds: settings, database, live index and its change tailer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from hashwall.service.actions.webhooks import WebhookWorker, seal_legacy_secrets
from hashwall.service.auth import KeyCache
from hashwall.service.catalog_index import CatalogIndex
from hashwall.service.change_log import ChangeTailer, latest_change_id
from hashwall.service.index_snapshot import SnapshotWriter, open_index
from hashwall.service.likeness.runtime import LikenessRuntime
from hashwall.service.live_index import LiveIndex
from hashwall.service.public_uploads import UploadGate
from hashwall.service.readiness import Readiness
from hashwall.service.record_writer import RecordWriter
from hashwall.service.settings import Settings
from hashwall.store import ChangeKind, Database, create_database, upgrade
from hashwall.store.private_files import private_dir

log = logging.getLogger("hashwall.service")


@dataclass
class ServiceState:
    settings: Settings
    db: Database
    index: LiveIndex
    tailer: ChangeTailer
    key_cache: KeyCache = field(default_factory=KeyCache)
    catalog: CatalogIndex = field(default_factory=CatalogIndex)
    webhooks: WebhookWorker | None = None  # started by the app (actions.background)
    likeness: LikenessRuntime | None = None  # enrolled templates in memory (docs/likeness.md)
    #: Wakes this worker's takedown sender (set while the takedown thread runs).
    takedown_waker: Callable[[], None] | None = None
    #: Hands a sweep job to this worker's background sweep thread (set while it runs).
    sweep_soon: Callable[[int], None] | None = None
    #: Start-up snapshots being written in the background (docs/service.md).
    snapshots: SnapshotWriter = field(default_factory=SnapshotWriter)
    records: RecordWriter = field(init=False)  # match records, group-committed (started by the app)
    #: Public uploads being decoded in this worker (public_uploads.py, docs/security.md).
    public_uploads: UploadGate = field(init=False)
    #: Whether the database answers, for ``/v1/ready`` (bounded cost: readiness.py).
    readiness: Readiness = field(init=False)

    def __post_init__(self) -> None:
        self.records = RecordWriter(self)
        self.public_uploads = UploadGate.from_settings(self.settings)
        self.readiness = Readiness(self.db)

    @classmethod
    def open(cls, settings: Settings) -> ServiceState:
        private_dir(settings.data_dir)  # 0700: the database and the secret key live there
        db = create_database(settings.resolved_database_url())
        if settings.auto_migrate:
            upgrade(db.engine)
        seal_legacy_secrets(db, settings)  # webhook secrets written in clear by old versions
        # Read the log position first: changes committed while we load are replayed after.
        start_after = latest_change_id(db)
        index, catalog = LiveIndex(), CatalogIndex()
        snapshots = SnapshotWriter()
        for live in (index, catalog.live_index):  # a session each (see load_all)
            open_index(
                db,
                live,
                data_dir=settings.data_dir,
                enabled=settings.index_snapshots,
                max_replay=settings.index_snapshot_max_replay,
                start_after=start_after,
                writer=snapshots,
            )
        with db.session() as session:
            likeness = LikenessRuntime.open(settings, session)
        log.info("index loaded: %d active entries, %d catalog items", len(index), len(catalog))
        tailer = ChangeTailer(
            db,
            index,
            start_after=start_after,
            poll_seconds=settings.change_poll_seconds,
            catalog=catalog,
        )
        tailer.entry_listeners.append(likeness.sync_entries)
        return cls(
            settings, db, index, tailer, catalog=catalog, likeness=likeness, snapshots=snapshots
        )

    def close(self) -> None:
        self.records.stop()  # writes what is queued
        self.snapshots.join()  # a snapshot being written is finished, not left half-done
        self.tailer.stop()
        self.db.dispose()

    def publish(self, kind: ChangeKind, target_id: int, *, removed: bool = False) -> None:
        """Apply a committed change to this worker's index now (others learn from the log).

        Never raises: the change is committed, so the caller's write succeeded and must be
        answered as such. If the database cannot be read back now, this worker's change
        tailer applies the change from the log on a later poll (every worker's tailer reads
        every change, its own included). ``removed``: the change withdrew or deleted the
        entry, which is then dropped from the index at once without reading anything, so
        "stops matching before the call returns" holds even then.
        """
        try:
            self._apply(kind, [target_id])
        except Exception:
            self._apply_failed(kind, [target_id], removed)

    def publish_entries(self, entry_ids: list[int], *, removed: bool = False) -> None:
        """:meth:`publish` for several committed entry changes at once."""
        if not entry_ids:
            return
        try:
            self._apply(ChangeKind.ENTRY, entry_ids)
        except Exception:
            self._apply_failed(ChangeKind.ENTRY, entry_ids, removed)

    def _apply_failed(self, kind: ChangeKind, targets: list[int], removed: bool) -> None:
        log.warning(
            "applying committed %s change(s) %s in this worker failed; the change tailer "
            "applies them from the log",
            kind.value,
            targets[:10],
            exc_info=True,
        )
        if removed and kind is ChangeKind.ENTRY:
            self.index.forget(targets)

    def _apply(self, kind: ChangeKind, targets: list[int]) -> None:
        if kind is ChangeKind.ENTRY:
            self.index.sync_entries(self.db, targets)
            if self.likeness is not None:
                self.likeness.sync_entries(self.db, targets)
            return
        for target_id in targets:
            if kind is ChangeKind.BANK:
                self.index.sync_bank(self.db, target_id)
            elif kind is ChangeKind.CATALOG:
                self.catalog.sync_items(self.db, [target_id])
            elif kind is ChangeKind.CATALOG_IMPORT:
                self.catalog.sync_import(self.db, target_id)
            else:
                self.index.sync_import(self.db, target_id)

    def actions_enqueued(self) -> None:
        """Webhook deliveries were committed: have this worker send them now."""
        if self.webhooks is not None:
            self.webhooks.wake()


async def get_state(request: Request) -> ServiceState:
    state = request.app.state.hashwall
    assert isinstance(state, ServiceState)
    return state
