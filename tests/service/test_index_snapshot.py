"""Start-up snapshots (``hashwall.service.index_snapshot``) against a real database (SQLite,
and PostgreSQL when configured): an index restored from a file and the change log since must
answer exactly as one read afresh from the database, and a file that is damaged, from
another database or too far behind must be ignored, not trusted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, update

from hashwall.hashing.record import HashRecord
from hashwall.index._format import load_sections, save_sections
from hashwall.media.sniff import ContentKind
from hashwall.service import index_snapshot
from hashwall.service.change_log import latest_change_id
from hashwall.service.index_scan import CATALOG, ENTRIES
from hashwall.service.index_snapshot import SnapshotWriter, open_index, restore, snapshot_path
from hashwall.service.live_index import LiveIndex
from hashwall.service.settings import Settings
from hashwall.signals.vpdq import VpdqFrame
from hashwall.store import Change, ChangeKind, Entry, EntrySignal, ImportJob
from tests.service.test_live_index import (
    MD5,
    SHA,
    A,
    Add,
    B,
    Bench,
    C,
    SetState,
    answers,
    bench,
    digest_query,
    hex_of,
    matched,
    operation,
    pdq_query,
)

__all__ = ["bench"]


@dataclass
class Logged:
    """The bench's writes, each with its change row, as the service makes them."""

    bench: Bench

    def change(self, kind: ChangeKind, target: int, **fields: object) -> None:
        with self.bench.db.session() as session:
            session.add(Change(kind=kind, target_id=target, **fields))

    def bank(self, name: str) -> int:
        bank = self.bench.bank(name)
        self.change(ChangeKind.BANK, bank)
        return bank

    def entry(self, bank: int, *signals: tuple[str, str, str, int | None]) -> int:
        entry = self.bench.entry(bank, *signals)
        self.change(ChangeKind.ENTRY, entry)
        return entry

    def set_state(self, entry: int, state: str) -> None:
        self.bench.set_state(entry, state)
        self.change(ChangeKind.ENTRY, entry)

    def imported(self, bank: int, *values: str) -> list[int]:
        """A bulk import of one PDQ entry per value: one change row names the job."""
        with self.bench.db.session() as session:
            job = ImportJob(bank_id=bank, idempotency_key=values[0], format="csv")
            session.add(job)
            session.flush()
            entries = [
                Entry(bank_id=bank, content_type="photo", state="active", import_job_id=job.id)
                for _ in values
            ]
            for entry, value in zip(entries, values, strict=True):
                entry.signals = [
                    EntrySignal(
                        signal_type="pdq", variant="original", value=value, value_key=value,
                        quality=100,
                    )
                ]  # fmt: skip
            session.add_all(entries)
            session.add(Change(kind=ChangeKind.IMPORT, target_id=job.id))
            session.flush()
            return [entry.id for entry in entries]


@pytest.fixture
def logged(bench: Bench) -> Logged:
    return Logged(bench)


def start(bench: Bench, data_dir: Path, max_replay: int = 1000) -> tuple[LiveIndex, bool]:
    """A worker's start-up: (the index, whether it came from the snapshot). A snapshot
    written because the database was read is on disk when this returns."""
    index = LiveIndex()
    writer = SnapshotWriter()
    path = snapshot_path(data_dir, ENTRIES)
    before = path.stat().st_mtime_ns if path.exists() else None
    open_index(
        bench.db,
        index,
        data_dir=data_dir,
        enabled=True,
        max_replay=max_replay,
        start_after=latest_change_id(bench.db),
        writer=writer,
    )
    writer.join()
    restored = path.exists() and path.stat().st_mtime_ns == before
    return index, restored


def test_restart_from_the_snapshot_and_the_changes_since(logged: Logged, tmp_path: Path) -> None:
    ncii = logged.bank("ncii")
    withdrawn_later = logged.entry(
        ncii, ("pdq", "original", A, 100), ("md5", "original", MD5, None)
    )
    kept = logged.entry(ncii, ("pdq", "borderless", B, 90), ("sha256", "original", SHA, None))
    frames = [VpdqFrame(i, 100, hex_of(100 + i), float(i)) for i in range(5)]
    video = logged.entry(
        ncii, ("vpdq", "original", json.dumps([f.as_json() for f in frames]), None)
    )
    _, restored = start(logged.bench, tmp_path)
    assert not restored and snapshot_path(tmp_path, ENTRIES).is_file()

    logged.set_state(withdrawn_later, "withdrawn")
    added = logged.entry(ncii, ("pdq", "original", C, 100))
    bulk = logged.imported(ncii, hex_of(30), hex_of(31))
    index, restored = start(logged.bench, tmp_path)

    assert restored
    assert matched(index, pdq_query(A)) == [] and matched(index, digest_query(md5=MD5)) == []
    assert matched(index, pdq_query(B)) == [(kept, "pdq", "borderless")]
    assert matched(index, digest_query(sha256=SHA)) == [(kept, "sha256", None)]
    assert matched(index, pdq_query(C)) == [(added, "pdq", "original")]
    assert [matched(index, pdq_query(hex_of(30 + i))) for i in range(2)] == [
        [(entry, "pdq", "original")] for entry in bulk
    ]
    video_query = HashRecord("q", ContentKind.VIDEO, "", "", vpdq=frames)
    assert matched(index, video_query) == [(video, "vpdq", None)]
    assert index.banks[ncii].name == "ncii"
    assert answers(index) == answers(logged.bench.loaded())
    # The restored index keeps converging like a loaded one.
    logged.set_state(kept, "withdrawn")
    index.sync_entries(logged.bench.db, [kept])
    assert matched(index, pdq_query(B)) == [] and len(index) == 4


def test_a_change_committed_late_below_the_position_is_replayed(
    logged: Logged, tmp_path: Path
) -> None:
    """On PostgreSQL a change id is handed out before its transaction commits: a change with
    a lower id than the snapshot's position can become visible after the snapshot was
    taken. Replay starts ``REPLAY_MARGIN`` before the position, so it is not missed."""
    bank = logged.bank("ncii")
    late = logged.entry(bank, ("pdq", "original", A, 100))
    gap = latest_change_id(logged.bench.db) + 1
    for later in range(gap + 1, gap + 4):  # committed after the slow one took its id
        logged.change(ChangeKind.BANK, bank, id=later)
    start(logged.bench, tmp_path)  # position: gap + 3, with gap not visible yet

    logged.bench.set_state(late, "withdrawn")
    logged.change(ChangeKind.ENTRY, late, id=gap)  # the slow transaction commits now
    index, restored = start(logged.bench, tmp_path)
    assert restored and matched(index, pdq_query(A)) == []


def damage(logged: Logged, path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # inside the last section: its checksum no longer matches
    path.write_bytes(bytes(data))


def other_database(logged: Logged, path: Path) -> None:
    """The database is re-created (or restored from a backup) under the same data directory:
    the change row the snapshot stands on is gone or different."""
    with logged.bench.db.session() as session:
        session.execute(delete(Change))
    logged.bench.clear()
    logged.entry(logged.bank("fresh"), ("pdq", "original", C, 100))


def far_behind(logged: Logged, path: Path) -> None:
    for _ in range(3):
        logged.change(ChangeKind.BANK, 1)


@pytest.mark.parametrize("spoil", [damage, other_database, far_behind])
def test_an_unusable_snapshot_is_ignored_and_replaced(
    logged: Logged,
    tmp_path: Path,
    spoil: Callable[[Logged, Path], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bank = logged.bank("ncii")
    logged.entry(bank, ("pdq", "original", A, 100))
    start(logged.bench, tmp_path)
    path = snapshot_path(tmp_path, ENTRIES)
    spoil(logged, path)

    index, restored = start(logged.bench, tmp_path, max_replay=2)

    assert not restored and "not used" in caplog.text
    assert answers(index) == answers(logged.bench.loaded())
    assert restore(logged.bench.db, LiveIndex(), path, max_replay=1000)  # the new file is good


@pytest.mark.parametrize(
    "section", ["base.pdq_owners", "base.md5_owners", "base.pdq_variants", "pdq.slots"]
)
def test_columns_that_do_not_fit_together_are_refused(
    logged: Logged, tmp_path: Path, section: str
) -> None:
    """A well-formed file (checksums recomputed) whose columns point outside each other
    is refused before anything is installed: the index stays empty, no search reads it."""
    logged.entry(logged.bank("ncii"), ("pdq", "original", A, 100), ("md5", "x", MD5, None))
    start(logged.bench, tmp_path)
    path = snapshot_path(tmp_path, ENTRIES)
    meta, sections = load_sections(path, index_snapshot.FILE_KIND)
    spoilt = {name: np.array(array) for name, array in sections.items()}
    spoilt[section][:] = 1_000_000  # no such owner, variant, or row
    save_sections(path, index_snapshot.FILE_KIND, meta, spoilt)

    index = LiveIndex()
    assert not restore(logged.bench.db, index, path, max_replay=1000)
    assert len(index) == 0 and len(index.pdq) == 0


def test_a_snapshot_of_another_index_is_ignored(logged: Logged, tmp_path: Path) -> None:
    logged.entry(logged.bank("ncii"), ("pdq", "original", A, 100))
    start(logged.bench, tmp_path)
    catalog_path = snapshot_path(tmp_path, CATALOG)
    catalog_path.write_bytes(snapshot_path(tmp_path, ENTRIES).read_bytes())
    catalog = LiveIndex(CATALOG)
    assert not restore(logged.bench.db, catalog, catalog_path, max_replay=1000)
    assert len(catalog) == 0


def test_replay_limit_is_a_tenth_of_the_entries_within_the_setting() -> None:
    assert index_snapshot.replay_limit(10_000_000, 200_000) == 200_000
    assert index_snapshot.replay_limit(1_000_000, 200_000) == 100_000
    assert index_snapshot.replay_limit(50, 200_000) == 1_000  # small banks: cheap either way
    assert index_snapshot.replay_limit(50, 0) == 0  # 0: only an up-to-date snapshot


def test_no_snapshot_without_a_change_log(bench: Bench, tmp_path: Path) -> None:
    """An empty log cannot tell this database from another: nothing is written."""
    start(bench, tmp_path)
    assert not snapshot_path(tmp_path, ENTRIES).exists()


def test_abandoned_temp_files_are_removed(logged: Logged, tmp_path: Path) -> None:
    logged.entry(logged.bank("ncii"), ("pdq", "original", A, 100))
    folder = snapshot_path(tmp_path, ENTRIES).parent
    folder.mkdir(parents=True)
    dead = folder / "entries.hwsnap.tmp999999999"  # no such process
    dead.write_bytes(b"half a file")
    start(logged.bench, tmp_path)
    assert not dead.exists() and snapshot_path(tmp_path, ENTRIES).is_file()


def test_signal_rows_erased_after_the_snapshot(logged: Logged, tmp_path: Path) -> None:
    """A deleted entry loses its signal rows: replay removes it from the restored base."""
    bank = logged.bank("ncii")
    gone = logged.entry(bank, ("pdq", "original", A, 100), ("md5", "original", MD5, None))
    start(logged.bench, tmp_path)
    with logged.bench.db.session() as session:
        session.execute(delete(EntrySignal).where(EntrySignal.entry_id == gone))
        session.execute(update(Entry).where(Entry.id == gone).values(state="deleted"))
    logged.change(ChangeKind.ENTRY, gone)
    index, restored = start(logged.bench, tmp_path)
    assert restored and len(index) == 0 and len(index.pdq) == 0
    assert index.digest_entries("md5", MD5) == ()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=st.lists(operation, max_size=8), after=st.lists(operation, max_size=8))
def test_restored_index_answers_like_a_fresh_one(
    logged: Logged,
    tmp_path_factory: pytest.TempPathFactory,
    before: list[object],
    after: list[object],
) -> None:
    """Any history before the snapshot and after it: restore plus replay equals a fresh read."""
    data_dir = tmp_path_factory.mktemp("snapshots")
    logged.bench.clear()
    banks = [logged.bank("a"), logged.bank("b")]
    entries: list[int] = []

    def apply(op: object) -> None:
        if isinstance(op, Add):
            entries.append(logged.entry(banks[op.bank], *op.signals))
        elif isinstance(op, SetState) and entries:
            logged.set_state(entries[op.which % len(entries)], op.state)

    for op in before:
        apply(op)
    start(logged.bench, data_dir)
    for op in after:
        apply(op)
    index, restored = start(logged.bench, data_dir)
    assert restored
    assert answers(index) == answers(logged.bench.loaded())


def test_margin_walk_back_stops_at_old_changes(logged: Logged) -> None:
    """Replay starts at the last change older than the margin, found walking back by id."""
    old = datetime(2020, 1, 1, tzinfo=UTC)
    with logged.bench.db.session() as session:
        session.add_all(Change(kind=ChangeKind.BANK, target_id=1, created_at=old) for _ in range(3))
    last_old = latest_change_id(logged.bench.db)
    with logged.bench.db.session() as session:  # more than one page of the walk
        session.add_all(Change(kind=ChangeKind.BANK, target_id=1) for _ in range(1500))
    newest = latest_change_id(logged.bench.db)
    position = index_snapshot.position_at(logged.bench.db, newest)
    assert position is not None and position.replay_from == last_old


def test_cli_writes_the_snapshots(logged: Logged, tmp_path: Path, database_url: str) -> None:
    """``hashwall db snapshot`` refreshes the files off-peak; a worker then starts from them."""
    from typer.testing import CliRunner

    from hashwall.cli.app import app as cli_app

    runner = CliRunner()
    command = ["db", "snapshot", "--database-url", database_url, "--data-dir", str(tmp_path)]
    empty = runner.invoke(cli_app, command)
    assert empty.exit_code == 0 and "nothing written" in empty.output
    entry = logged.entry(logged.bank("ncii"), ("pdq", "original", A, 100))
    done = runner.invoke(cli_app, command)
    assert done.exit_code == 0, done.output
    assert (
        "entries.hwsnap: 1 active" in done.output
        and "catalog_items.hwsnap: 0 active" in done.output
    )
    index, restored = start(logged.bench, tmp_path)
    assert restored and matched(index, pdq_query(A)) == [(entry, "pdq", "original")]


def test_cli_reports_a_data_directory_it_cannot_write(
    logged: Logged, tmp_path: Path, database_url: str
) -> None:
    from typer.testing import CliRunner

    from hashwall.cli.app import app as cli_app

    logged.entry(logged.bank("ncii"), ("pdq", "original", A, 100))
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data directory should be")
    command = ["db", "snapshot", "--database-url", database_url, "--data-dir", str(not_a_folder)]
    # An explicit key: without one, development keeps its generated key in the data directory
    # and the command would stop at that (test_secret_key.py), before the snapshot writer.
    explicit = {"HASHWALL_SECRET_KEY": "snapshot-test-secret-0123456789"}
    failed = CliRunner().invoke(cli_app, command, env=explicit)
    assert failed.exit_code == 1
    assert "cannot write the snapshots into" in failed.output
    assert "Traceback" not in failed.output
    assert not_a_folder.read_text() == "a file where the data directory should be"


def test_the_service_restarts_from_its_snapshot(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the API: a worker that read the database leaves a snapshot; the next start
    uses it and the changes made in between (a withdrawal, an addition, a catalog item)."""
    from fastapi.testclient import TestClient

    from hashwall.service.app import create_app
    from tests.service.conftest import Api, make_keys
    from tests.service.test_api_core import PDQ_A, PDQ_B, add, flip, match, pdq

    keys = make_keys(settings)

    def worker() -> TestClient:
        return TestClient(create_app(settings))

    with worker() as client:  # an empty change log at start: nothing to save yet
        api = Api(client, keys, settings)
        bank = api.create_bank()
        withdrawn = add(api, bank["id"], ("pdq", PDQ_A))
        add(api, bank["id"], ("md5", "c" * 32))
    with worker() as client:  # reads the database, then saves what it read
        api = Api(client, keys, settings)
        api.call("POST", f"/v1/entries/{withdrawn['id']}/withdraw", "curator")
        added = add(api, bank["id"], ("pdq", PDQ_B))
        item = {"content_id": "p/1", "hashes": [pdq(flip(PDQ_A, 4))]}
        assert api.call("POST", "/v1/catalog/items", "hasher", json=item).status_code == 201
    assert snapshot_path(settings.data_dir, ENTRIES).is_file()
    assert snapshot_path(settings.data_dir, CATALOG).is_file()

    caplog.clear()
    with caplog.at_level("INFO", logger="hashwall.service.snapshot"), worker() as client:
        api = Api(client, keys, settings)
        assert caplog.text.count("index restored from") == 2
        assert not match(api, pdq(PDQ_A))["results"][0]["matched"]
        [hit] = match(api, pdq(PDQ_B))["results"][0]["banks"][0]["matches"]
        assert hit["entry_id"] == added["id"]
        md5 = {"signal_type": "md5", "signal_value": "c" * 32}
        assert match(api, md5)["results"][0]["matched"]
        assert len(client.app.state.hashwall.catalog) == 1  # type: ignore[attr-defined]


def test_an_import_already_in_the_snapshot_is_not_read_again(
    logged: Logged, tmp_path: Path
) -> None:
    """A restart right after a bulk import finds the import in the replay window (the
    margin); its entries are in the snapshot already, so their signal rows are not read
    again, only those of entries the snapshot lacks (issue 20: that replay used to stream
    every signal row of the import and cost more than the import itself)."""
    ncii = logged.bank("ncii")
    bulk = logged.imported(ncii, *(hex_of(200 + i) for i in range(40)))
    _, restored = start(logged.bench, tmp_path)  # the snapshot holds the import
    assert not restored
    late = logged.entry(ncii, ("pdq", "original", C, 100))
    signal_reads: list[str] = []

    def watch(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM entry_signals JOIN entries" in statement:  # signal rows of owners
            signal_reads.append(statement)

    event.listen(logged.bench.db.engine, "before_cursor_execute", watch)
    try:
        index, restored = start(logged.bench, tmp_path)
    finally:
        event.remove(logged.bench.db.engine, "before_cursor_execute", watch)
    assert restored
    # One read of signal rows, for the one entry the snapshot lacks, by its id.
    assert len(signal_reads) == 1 and "changes" not in signal_reads[0], signal_reads
    assert all(matched(index, pdq_query(hex_of(200 + i))) for i in range(40))
    assert len(bulk) == 40 and matched(index, pdq_query(C)) == [(late, "pdq", "original")]
