"""Benchmark service start-up: ``LiveIndex.load_all`` over a bank of N PDQ hashes.

    python benchmarks/startup_bench.py                                  # 1M hashes, SQLite
    python benchmarks/startup_bench.py --n 10000000 --keep-db /tmp/bank10m.db
    python benchmarks/startup_bench.py --keep-db /tmp/bank.db --compare-src /tmp/prev/src
    python benchmarks/startup_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

The bank is written straight into the database, not through the API: one bank of up to 1M
entries (one PDQ hash each, numpy-random) by bulk INSERTs, then copies of it into further
banks with offset ids and fresh random hashes by ``INSERT ... SELECT`` inside the database
(10M in a few minutes instead of an hour of Python). ``--keep-db PATH`` keeps a SQLite bank
for the next run and grows one that holds fewer than ``--n`` hashes (a copy of the service
benchmark's 1M bank, say); a PostgreSQL bank goes in a schema of its own, dropped at the end.

Each load runs in a fresh process (so each peak RSS is its own) and prints wall seconds and
peak RSS; ``--compare-src DIR`` also loads with the code of another checkout's ``src`` (say a
``git archive`` of the previous commit, with the compiled index copied in), interleaved run
by run with this tree's so both see the same machine load. ``--profile`` prints where this
tree's load spends its time. The figures are not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, func, insert, select, text

from _bank_rows import entry_row, signal_row

HERE_SRC = Path(__file__).resolve().parents[1] / "src"
BANK_ROWS = 1_000_000  # entries per bank written from Python; more banks are copies
_CHUNK = 50_000
_RANDOM_HEX = {
    "sqlite": "lower(hex(randomblob(32)))",
    "postgresql": "md5(random()::text) || md5(random()::text)",
}


# ---------------------------------------------------------------------- the bank


def ensure_bank(url: str, n: int) -> None:
    """Make the database hold exactly ``n`` PDQ signal rows of active entries."""
    from hashwall.store import EntrySignal, create_database, upgrade

    db = create_database(url)
    upgrade(db.engine)
    with db.engine.connect() as connection:
        have = connection.scalar(select(func.count()).select_from(EntrySignal.__table__)) or 0
    if have > n:
        raise SystemExit(f"{url} already holds {have:,} signal rows, more than --n {n:,}")
    start = time.perf_counter()
    while have < n:
        with db.engine.begin() as connection:
            added = (
                first_bank(connection, n - have) if not have else copy_bank(connection, n - have)
            )
        have += added
        print(f"bank: {have:,} of {n:,} PDQ hashes written", flush=True)
    print(f"bank: {have:,} PDQ hashes ({time.perf_counter() - start:.0f} s writing)")
    db.dispose()


def first_bank(connection: Connection, count: int) -> int:
    """A bank of numpy-random hashes, INSERTed in chunks (the rows of service_bench.py)."""
    from hashwall.store import Bank, Entry, EntrySignal

    count = min(count, BANK_ROWS)
    bank_id = connection.execute(
        insert(Bank).values(name=f"startup-bench-{uuid.uuid4().hex[:8]}").returning(Bank.id)
    ).scalar_one()
    rng = np.random.default_rng(0)
    for start in range(0, count, _CHUNK):
        ids = range(start + 1, min(start + _CHUNK, count) + 1)
        values = [row.tobytes().hex() for row in rng.integers(0, 256, (len(ids), 32), np.uint8)]
        connection.execute(insert(Entry), [entry_row(i, bank_id) for i in ids])
        signals = [signal_row(i, v, signal_id=i) for i, v in zip(ids, values, strict=True)]
        connection.execute(insert(EntrySignal), signals)
    return count


def copy_bank(connection: Connection, count: int) -> int:
    """One more bank: the first bank's entries under new ids, with fresh random hashes,
    copied inside the database."""
    from hashwall.store import Bank

    source = connection.execute(
        text("SELECT bank_id, count(*), min(id) FROM entries GROUP BY bank_id ORDER BY bank_id")
    ).first()
    assert source is not None
    source_bank, size, first_id = source
    count = min(count, int(size))
    bank_id = connection.execute(
        insert(Bank).values(name=f"startup-bench-{uuid.uuid4().hex[:8]}").returning(Bank.id)
    ).scalar_one()
    entry_offset = int(connection.scalar(text("SELECT max(id) FROM entries")) or 0)
    signal_offset = int(connection.scalar(text("SELECT max(id) FROM entry_signals")) or 0)
    last_id = int(first_id) + count - 1
    params = {"bank": bank_id, "src": source_bank, "last": last_id}
    connection.execute(
        text(
            "INSERT INTO entries (id, bank_id, state, content_type, label, source, case_ref, "
            "metadata, import_job_id, created_at, updated_at) "
            f"SELECT id + {entry_offset}, :bank, state, content_type, label, source, case_ref, "
            "metadata, import_job_id, created_at, updated_at FROM entries "
            "WHERE bank_id = :src AND id <= :last"
        ),
        params,
    )
    random_hex = _RANDOM_HEX[connection.dialect.name]
    # MATERIALIZED: each random value computed once, so value and value_key agree.
    connection.execute(
        text(
            "WITH copied AS MATERIALIZED (SELECT s.id, s.entry_id, s.signal_type, s.variant, "
            f"s.quality, {random_hex} AS v FROM entry_signals s JOIN entries e "
            "ON e.id = s.entry_id WHERE e.bank_id = :src AND e.id <= :last) "
            "INSERT INTO entry_signals (id, entry_id, signal_type, variant, value, value_key, "
            f"quality) SELECT id + {signal_offset}, entry_id + {entry_offset}, signal_type, "
            "variant, v, v, quality FROM copied"
        ),
        params,
    )
    return count


@contextmanager
def bank_url(args: argparse.Namespace) -> Iterator[str]:
    """The database to measure: a kept or temporary SQLite file, or a PostgreSQL schema that
    is dropped afterwards."""
    if args.database_url:
        from hashwall.store.db import scratch_schema

        with scratch_schema(args.database_url, prefix="hw_startup_bench") as url:
            yield url
    elif args.keep_db:
        yield f"sqlite:///{Path(args.keep_db).resolve()}"
    else:
        with tempfile.TemporaryDirectory(prefix="hw-startup-") as folder:
            yield f"sqlite:///{folder}/bank.db"


# ---------------------------------------------------------------------- measuring


def child(url: str, profile: bool, withdraw: int) -> None:
    """Runs in a fresh process: one ``load_all``, printed as JSON on the last line."""
    import resource

    from hashwall.service.live_index import LiveIndex
    from hashwall.store import create_database

    db = create_database(url)
    index = LiveIndex()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    with db.session() as session:
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        index.load_all(session)
        seconds = time.perf_counter() - start
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    result: dict[str, object] = {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "entries": len(index),
        "pdq": len(index.pdq),
    }
    if withdraw and hasattr(index, "_remove_base"):
        result["withdraw_ms"] = in_memory_withdrawal(index, withdraw)
    db.dispose()
    print(json.dumps(result))


def in_memory_withdrawal(index: object, count: int) -> float:
    """Milliseconds to take ``count`` loaded entries out of the index (what a sync chunk of
    withdrawals costs in memory; the database is not touched)."""
    entry_ids = index._base.entry_ids  # type: ignore[attr-defined]
    chosen = entry_ids[np.linspace(0, len(entry_ids) - 1, min(count, len(entry_ids))).astype(int)]
    start = time.perf_counter()
    with index.lock:  # type: ignore[attr-defined]
        index._remove(chosen.tolist())  # type: ignore[attr-defined]
    return (time.perf_counter() - start) * 1000


def measure(url: str, src: Path, profile: bool, withdraw: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", url, "--withdraw", str(withdraw)]
    if profile:
        command.append("--profile")
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"load with {src} failed:\n{done.stderr}")
    if profile:
        print(done.stderr)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(name: str, runs: list[dict[str, float]]) -> None:
    best = min(runs, key=lambda r: r["seconds"])
    seconds = ", ".join(f"{r['seconds']:.2f}" for r in runs)
    line = (
        f"{name}: best {best['seconds']:.2f} s (runs {seconds}), peak RSS "
        f"{max(r['peak_rss_mb'] for r in runs):,.0f} MB, {int(best['entries']):,} entries, "
        f"{int(best['pdq']):,} PDQ rows indexed"
    )
    if "withdraw_ms" in best:
        line += f"; withdrawing {best['withdraw_ms']:.1f} ms per sync chunk"
    print(line, flush=True)


def add_bank_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the bank (:func:`bank_url`, :func:`ensure_bank`)."""
    parser.add_argument("--n", type=int, default=1_000_000, help="PDQ hashes in the bank")
    parser.add_argument("--keep-db", help="SQLite file to keep (and grow) between runs")
    parser.add_argument("--database-url", help="PostgreSQL URL (a schema is made and dropped)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_bank_arguments(parser)
    parser.add_argument("--compare-src", type=Path, help="another checkout's src to load with")
    parser.add_argument("--repeat", type=int, default=1, help="loads per implementation")
    parser.add_argument("--profile", action="store_true", help="cProfile this tree's load")
    parser.add_argument(
        "--withdraw", type=int, default=500, help="also time an in-memory withdrawal of this many"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.profile, args.withdraw)
        return
    with bank_url(args) as url:
        ensure_bank(url, args.n)
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        sources = [("this", HERE_SRC)]
        if args.compare_src:
            sources.append(("previous", args.compare_src.resolve()))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name, _src in sources}
        for repeat in range(args.repeat):
            for name, src in sources:
                profile = args.profile and name == "this" and repeat == 0
                runs[name].append(measure(url, src, profile, args.withdraw))
        for name, _src in sources:
            if runs[name]:
                report(name, runs[name])
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
