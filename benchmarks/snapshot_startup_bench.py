"""Benchmark start-up from an index snapshot against reading the whole database.

    python benchmarks/snapshot_startup_bench.py                          # 1M hashes, SQLite
    python benchmarks/snapshot_startup_bench.py --n 10000000 --keep-db /tmp/bank10m.db
    python benchmarks/snapshot_startup_bench.py --changes 100000        # replay cost too
    python benchmarks/snapshot_startup_bench.py --as-import             # right after an import
    python benchmarks/snapshot_startup_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

The bank is ``startup_bench.py``'s (one PDQ hash per entry, written straight into the
database; ``--keep-db`` reuses a kept file). Each start-up runs in a fresh process, in turn:

* **read**: the worker's start-up with snapshots off: every hash read from the database
  (what every start cost before snapshots);
* **write**: the same read, then the snapshot written (what a worker without a usable
  snapshot does; it writes in the background while serving, timed here to its end);
* **restore**: start-up from that snapshot; then again after ``--changes`` withdrawals made
  after it (each a change row, as the service writes them), which are replayed, and a read
  of the database after them for comparison.

``--as-import`` makes the whole bank one bulk import whose change row is logged just before
the snapshots are taken: every restore then finds the import in its replay margin, as a
restart right after a big import does (issue 20: that replay used to cost more than the
import; the index now reads only the entries its snapshot lacks).

Every run also answers the same 200 PDQ queries; the runs must agree (the withdrawn entries
excepted, which the read after the changes must not find either). The snapshot file is in
the page cache when it is restored (as after a worker restart); ``--cold`` asks the kernel
to drop its caches first (root only). Figures print with the ratio restore / read; nothing
is asserted beyond the answers agreeing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, literal, select, text, update

from startup_bench import add_bank_arguments, bank_url, ensure_bank

HERE_SRC = Path(__file__).resolve().parents[1] / "src"
QUERIES = 200


def child(url: str, mode: str, data_dir: Path) -> None:
    """Runs in a fresh process: one start-up, printed as JSON on the last line."""
    import resource

    import numpy as np

    from hashwall.service import index_snapshot
    from hashwall.service.change_log import latest_change_id
    from hashwall.service.index_snapshot import SnapshotWriter, open_index
    from hashwall.service.live_index import LiveIndex
    from hashwall.signals.hexcodec import hex_to_bytes_array
    from hashwall.store import EntrySignal, create_database

    # Measure a replay of any length (a worker would not replay past a tenth of the bank).
    index_snapshot.replay_limit = lambda _active, max_replay: max_replay
    db = create_database(url)
    index, writer = LiveIndex(), SnapshotWriter()
    files = data_dir / "index-snapshots"
    before = {f.name: f.stat().st_mtime_ns for f in files.glob("*")} if files.is_dir() else {}
    start = time.perf_counter()
    open_index(
        db,
        index,
        data_dir=data_dir,
        enabled=mode != "read",
        max_replay=10**9,
        start_after=latest_change_id(db),
        writer=writer,
    )
    loaded = time.perf_counter() - start
    writer.join(3600)
    with_write = time.perf_counter() - start
    with db.session() as session:  # hashes spread over the bank, the first one withdrawn
        last = session.scalar(select(func.max(EntrySignal.id))) or 0
        spread = np.linspace(1, last, QUERIES).astype(int).tolist()
        values = list(session.scalars(select(EntrySignal.value).where(EntrySignal.id.in_(spread))))
    answers = [
        sorted(np.asarray(ids).tolist())
        for ids, _ in index.pdq.search(hex_to_bytes_array(values, 32), radius=31)
    ]
    db.dispose()
    if mode == "restore" and any(
        f.stat().st_mtime_ns != before.get(f.name) for f in files.glob("*")
    ):
        raise SystemExit("the snapshot was not used: the database was read and a new one written")
    result = {
        "seconds": loaded,
        "with_write": with_write,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "entries": len(index),
        "answers": hashlib.sha256(json.dumps(answers).encode()).hexdigest()[:16],
    }
    print(json.dumps(result))


def start_up(url: str, mode: str, data_dir: Path) -> dict[str, float | str]:
    command = [
        sys.executable,
        __file__,
        "--child",
        url,
        "--mode",
        mode,
        "--data-dir",
        str(data_dir),
    ]
    env = {**os.environ, "PYTHONPATH": str(HERE_SRC)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{mode} start-up failed:\n{done.stderr}")
    result: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def log_changes(url: str, withdraw: int, as_import: bool = False) -> None:
    """A change row for the bank (a snapshot needs a log to stand on), then ``withdraw`` of
    the entries withdrawn, each with its change row, inside the database. ``as_import``:
    every entry becomes part of one bulk import, whose change row is logged too."""
    from hashwall.store import Change, ChangeKind, Entry, ImportJob, create_database

    db = create_database(url)
    now = literal(datetime.now(UTC), Change.created_at.type)
    chosen = select(Entry.id).order_by(Entry.id).limit(withdraw).scalar_subquery()
    with db.engine.begin() as connection:
        connection.execute(insert(Change).values(kind=ChangeKind.BANK, target_id=1))
        if as_import:
            job = connection.execute(
                insert(ImportJob)
                .values(bank_id=1, idempotency_key="bench", format="csv")
                .returning(ImportJob.id)
            ).scalar_one()
            connection.execute(update(Entry).values(import_job_id=job))
            connection.execute(insert(Change).values(kind=ChangeKind.IMPORT, target_id=job))
        if withdraw:
            connection.execute(update(Entry).where(Entry.id.in_(chosen)).values(state="withdrawn"))
            entry_kind = literal(ChangeKind.ENTRY, Change.kind.type)
            rows = select(entry_kind, Entry.id, now).order_by(Entry.id).limit(withdraw)
            connection.execute(
                insert(Change).from_select(["kind", "target_id", "created_at"], rows)
            )
    if connection.dialect.name == "postgresql":  # planner statistics, as autovacuum keeps them
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
            autocommit.execute(text("ANALYZE"))
    db.dispose()


def reactivate(url: str) -> None:
    """Undo :func:`log_changes`'s withdrawals, so a kept bank is the same next time."""
    from hashwall.store import create_database

    db = create_database(url)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE entries SET state = 'active' WHERE state = 'withdrawn'"))
        connection.execute(text("UPDATE entries SET import_job_id = NULL"))
        connection.execute(text("DELETE FROM import_jobs"))
        connection.execute(text("DELETE FROM changes"))
    db.dispose()


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def report(name: str, runs: list[dict[str, float | str]], baseline: float) -> None:
    seconds = [float(r["seconds"]) for r in runs]
    best = min(seconds)
    line = (
        f"{name}: best {best:.2f} s (runs {', '.join(f'{s:.2f}' for s in seconds)}), "
        f"peak RSS {max(float(r['peak_rss_mb']) for r in runs):,.0f} MB, "
        f"{int(runs[0]['entries']):,} entries, {best / baseline:.2f}x the read"
    )
    if name == "write":
        line += f"; with the snapshot written {min(float(r['with_write']) for r in runs):.2f} s"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_bank_arguments(parser)
    parser.add_argument("--changes", type=int, default=0, help="withdrawals after the snapshot")
    parser.add_argument(
        "--as-import", action="store_true", help="the bank is one import in the replay window"
    )
    parser.add_argument("--repeat", type=int, default=2, help="start-ups of each kind")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mode, args.data_dir)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="hw-snapshot-bench-"))
    try:
        with bank_url(args) as url:
            ensure_bank(url, args.n)
            reactivate(url)
            log_changes(url, 0, as_import=args.as_import)
            runs: dict[str, list[dict[str, float | str]]] = {"read": [], "write": [], "restore": []}
            snapshots = data_dir / "index-snapshots"
            for _ in range(args.repeat):
                for mode in ("read", "write", "restore"):
                    if mode == "write":
                        shutil.rmtree(snapshots, ignore_errors=True)
                    if args.cold:
                        drop_caches()
                    runs[mode].append(start_up(url, mode, data_dir))
            snapshot = next(snapshots.glob("*.hwsnap"))
            print(f"snapshot: {snapshot.stat().st_size / 2**20:,.0f} MiB for {args.n:,} hashes")
            log_changes(url, args.changes)
            replayed: list[dict[str, float | str]] = []
            after: list[dict[str, float | str]] = []
            for _ in range(args.repeat):
                if args.cold:
                    drop_caches()
                replayed.append(start_up(url, "restore", data_dir))
                after.append(start_up(url, "read", data_dir))
            baseline = min(float(r["seconds"]) for r in runs["read"])
            for name in ("read", "write", "restore"):
                report(name, runs[name], baseline)
            report(f"restore + replay of {args.changes:,} withdrawals", replayed, baseline)
            report("read, after the withdrawals", after, baseline)
            before = {r["answers"] for name in ("read", "write", "restore") for r in runs[name]}
            later = {r["answers"] for r in replayed + after}
            if len(before) != 1 or len(later) != 1:
                raise SystemExit(f"the start-ups disagree: {before} / {later}")
            print("answers: every start-up found the same entries for the 200 queries")
            reactivate(url)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
