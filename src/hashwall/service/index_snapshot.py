"""Start-up snapshots: a worker maps the indexes from a file and replays the change log since,
instead of reading every hash from the database.

Reading the database costs ~22 s and ~2.4 GB of peak memory per worker at 10M hashes, and
grows with the bank (a catalog of 1M items holds 10M rows). A snapshot is the in-memory
index itself (the base columns and the Hamming tables, :meth:`LiveIndex.capture`) in one
checksummed file of :mod:`hashwall.index._format`, memory-mapped on load: no rebuild, and the
workers of one machine share its pages.

Correctness rests on the change log: a snapshot records the last change it reflects, and
every change after it is re-applied on load by the same idempotent re-read the tailer uses.
Three details make that sound:

* The position is read *before* the database is scanned, so the file may also hold some
  later changes; re-applying those is harmless.
* PostgreSQL hands out change ids before commit, so a change with a lower id than the
  position could still have been in flight. Replay therefore starts ``REPLAY_MARGIN`` before
  the position's time, which covers any transaction shorter than that.
* The file is only used against the database that wrote it: the change row at its position
  must still be there, unchanged (a re-created or restored database fails this), and the
  schema revision must match.

A file that is damaged, from another database, or too far behind (:func:`replay_limit`) is
ignored, with the reason logged; the worker reads the database as before and writes a new
one in the background.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, union

from hashwall.index._format import IndexFileError, load_sections, save_sections
from hashwall.service.change_log import latest_change_id
from hashwall.service.index_scan import CATALOG, ENTRIES, IndexSource
from hashwall.service.live_index import LiveIndex
from hashwall.store import Change, ChangeKind, Database
from hashwall.store.migrate import current_revision

log = logging.getLogger("hashwall.service.snapshot")

FILE_KIND = "hashwall-live-index"
FORMAT = 1
#: How far before the position's change replay starts (see the module docstring).
REPLAY_MARGIN = timedelta(minutes=10)
#: The change kinds that name what each index holds: (owners, imports of owners).
_KINDS = {
    ENTRIES.owner_table: (ChangeKind.ENTRY, ChangeKind.IMPORT),
    CATALOG.owner_table: (ChangeKind.CATALOG, ChangeKind.CATALOG_IMPORT),
}


class SnapshotUnusable(Exception):
    """Why a snapshot file is not used (logged; the worker reads the database instead)."""


@dataclass(frozen=True)
class Position:
    """Where in the change log a snapshot stands."""

    change_id: int  # the newest change when the scan began
    replay_from: int  # changes above this id are re-applied on load
    fingerprint: str  # the change row at ``change_id``, to recognise the database
    revision: str  # the schema revision the file was written under


def snapshot_path(data_dir: Path, source: IndexSource) -> Path:
    return data_dir / "index-snapshots" / f"{source.owner_table}.hwsnap"


# ---------------------------------------------------------------------- the change log


def _fingerprint(db: Database, change_id: int) -> tuple[str, datetime] | None:
    """The change row at ``change_id`` as text (to recognise the database), and its time."""
    with db.session(readonly=True) as session:
        row = session.execute(
            select(Change.kind, Change.target_id, Change.created_at).where(Change.id == change_id)
        ).one_or_none()
    if row is None:
        return None
    made = row.created_at  # PostgreSQL answers in the session's time zone: compare in UTC
    made = made.astimezone(UTC) if made.tzinfo is not None else made
    return f"{row.kind}:{row.target_id}:{made.isoformat()}", row.created_at


def _replay_start(db: Database, change_id: int, made: datetime) -> int:
    """The id after which replay starts: the last change older than ``REPLAY_MARGIN``
    before the position's change (made at ``made``), found walking back by primary key
    (no time index)."""
    cutoff, upto = made - REPLAY_MARGIN, change_id
    with db.session(readonly=True) as session:
        while True:
            page = session.execute(
                select(Change.id, Change.created_at)
                .where(Change.id <= upto)
                .order_by(Change.id.desc())
                .limit(1000)
            ).all()
            for row in page:
                if row.created_at < cutoff:
                    return int(row.id)
            if len(page) < 1000:
                return 0
            upto = int(page[-1].id) - 1


def position_at(db: Database, change_id: int) -> Position | None:
    """The position of a scan that began at ``change_id``; None for an empty log (a file
    could not be told apart from another database's, and there is nothing to save)."""
    found = _fingerprint(db, change_id) if change_id > 0 else None
    revision = current_revision(db.engine)
    if found is None or revision is None:
        return None
    fingerprint, made = found
    return Position(change_id, _replay_start(db, change_id, made), fingerprint, revision)


def _changes_after(db: Database, change_id: int) -> int:
    with db.session(readonly=True) as session:
        return int(session.scalar(select(func.count()).where(Change.id > change_id)) or 0)


def replay(db: Database, index: LiveIndex, after: int) -> int:
    """Re-apply every change above ``after`` that concerns this index, the owners it names
    and those of the imports it names, selected in the database; returns how many owners
    were re-read (each once, however often the log names it)."""
    owner_kind, import_kind = _KINDS[index.source.owner_table]
    named = select(Change.target_id).where(Change.id > after, Change.kind == owner_kind)
    jobs = select(Change.target_id).where(Change.id > after, Change.kind == import_kind)
    return index.sync_selected(db, union(named, index.source.of_imports(jobs)))


# ---------------------------------------------------------------------- reading


def restore(db: Database, index: LiveIndex, path: Path, max_replay: int) -> bool:
    """Fill an empty index from the snapshot at ``path`` and replay the changes since;
    False (reason logged, index still empty) when the file is missing or unusable."""
    if not path.is_file():
        log.info("no index snapshot at %s: reading the database", path)
        return False
    started = time.monotonic()
    try:
        meta, sections = load_sections(path, FILE_KIND)
        position = _usable_position(db, index, meta, max_replay)
        snapshot = index.read_snapshot(meta["index"], sections)
    except (SnapshotUnusable, IndexFileError, OSError, KeyError, TypeError, ValueError) as error:
        log.warning("index snapshot %s not used (%s): reading the database", path, error)
        return False
    with db.session(readonly=True) as session:
        index.restore(session, snapshot)
    replayed = replay(db, index, position.replay_from)
    log.info(
        "index restored from %s in %.1f s: %d active, %d re-read from the change log",
        path,
        time.monotonic() - started,
        len(index),
        replayed,
    )
    return True


def _usable_position(
    db: Database, index: LiveIndex, meta: dict[str, Any], max_replay: int
) -> Position:
    if meta.get("format") != FORMAT or meta.get("source") != index.source.owner_table:
        raise SnapshotUnusable(f"format {meta.get('format')} of {meta.get('source')!r}")
    position = Position(**meta["position"])
    if position.revision != current_revision(db.engine):
        raise SnapshotUnusable(f"written under schema revision {position.revision}")
    found = _fingerprint(db, position.change_id)
    if found is None or found[0] != position.fingerprint:
        raise SnapshotUnusable("written for another database (or one restored from a backup)")
    behind = _changes_after(db, position.replay_from)
    limit = replay_limit(int(meta["active"]), max_replay)
    if behind > limit:
        raise SnapshotUnusable(f"{behind} changes behind, more than {limit}")
    return position


def replay_limit(active: int, max_replay: int) -> int:
    """How many changes a snapshot may be behind and still be used: re-reading one changed
    entry costs ~2x (SQLite) to ~4x (PostgreSQL) reading one entry in the full scan
    (``snapshot_startup_bench.py``), so a tenth of the snapshot's entries keeps the replay
    well under a full read; never past ``max_replay``."""
    return min(max_replay, max(1_000, active // 10))


# ---------------------------------------------------------------------- writing


def write(index: LiveIndex, position: Position, path: Path) -> Callable[[], None]:
    """Capture the index as loaded (now) and return the function that writes it to
    ``path`` (atomically), to run in the background while the worker serves."""
    index_meta, sections = index.capture()
    meta = {
        "format": FORMAT,
        "source": index.source.owner_table,
        "position": asdict(position),
        "written_at": datetime.now().astimezone().isoformat(),
        "active": len(index),
        "index": index_meta,
    }

    def write_file() -> None:
        started = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_temp_files(path)
        save_sections(path, FILE_KIND, meta, sections)
        log.info("index snapshot written to %s in %.1f s", path, time.monotonic() - started)

    return write_file


def _remove_abandoned_temp_files(path: Path) -> None:
    """Half-written files of workers that died while writing (``<name>.tmp<pid>``)."""
    for temp in path.parent.glob(f"{path.name}.tmp*"):
        pid = temp.name.rsplit(".tmp", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                temp.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SnapshotWriter:
    """Writes captured snapshots, each in a background thread; :meth:`join` at shutdown."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def start(self, write_file: Callable[[], None]) -> None:
        def run() -> None:
            try:
                write_file()
            except OSError as error:  # a full disk must not stop the worker
                log.warning("index snapshot not written: %s", error)

        thread = threading.Thread(target=run, name="hashwall-index-snapshot", daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self, timeout: float = 120.0) -> None:
        for thread in self._threads:
            thread.join(timeout)


def open_index(
    db: Database,
    index: LiveIndex,
    *,
    data_dir: Path,
    enabled: bool,
    max_replay: int,
    start_after: int,
    writer: SnapshotWriter,
) -> None:
    """Fill an empty index at start: from its snapshot when usable, else from the database
    (``start_after``: the newest change before this worker began loading), then saving a
    snapshot of what was read."""
    path = snapshot_path(data_dir, index.source)
    if enabled and restore(db, index, path, max_replay):
        return
    with db.session(readonly=True) as session:
        index.load_all(session)
    position = position_at(db, start_after) if enabled else None
    if position is not None:
        writer.start(write(index, position, path))


def refresh(db: Database, data_dir: Path) -> list[tuple[Path, int]]:
    """Read each index from the database and write its snapshot now, in the foreground
    (``hashwall db snapshot``: run it off-peak, and restarts replay only what came since).
    Returns (file, active owners) per file written; none without a change log."""
    written: list[tuple[Path, int]] = []
    start_after = latest_change_id(db)
    position = position_at(db, start_after)
    for source in (ENTRIES, CATALOG):
        if position is None:
            break
        index = LiveIndex(source)
        with db.session(readonly=True) as session:
            index.load_all(session)
        path = snapshot_path(data_dir, source)
        write(index, position, path)()
        written.append((path, len(index)))
    return written
