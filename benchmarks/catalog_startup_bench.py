"""Benchmark loading the platform catalog at start: ``CatalogIndex.load_all`` over N items.

    python benchmarks/catalog_startup_bench.py                           # 100k items, SQLite
    python benchmarks/catalog_startup_bench.py --n 1000000 --keep-db /tmp/catalog1m.db
    python benchmarks/catalog_startup_bench.py --keep-db /tmp/c.db --compare-src /tmp/prev/src

A catalog item is stored as the service stores an uploaded photo: its PDQ hash and the seven
other rotations and flips (each a row of its own variant), md5 and sha256, so N items are
10 N signal rows (numpy-random values, bulk INSERTs, not the API). Each load runs in a fresh
process and prints wall seconds and peak RSS; ``--compare-src DIR`` also loads with another
checkout's ``src`` (with its compiled index copied in), run by run, interleaved with this
tree's. The figures are not a test; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from hashwall.signals.pdq import DIHEDRAL_NAMES

_CHUNK = 20_000


def write_catalog(path: Path, n: int) -> float:
    """N active photo items with ten signal rows each; returns the seconds it took."""
    from hashwall.store import create_database, upgrade
    from hashwall.store.catalog_models import CatalogItem, CatalogSignal

    db = create_database(f"sqlite:///{path}")
    upgrade(db.engine)
    rng = np.random.default_rng(3)
    start = time.perf_counter()
    with db.engine.begin() as connection:
        for first in range(1, n + 1, _CHUNK):
            ids = range(first, min(n, first + _CHUNK - 1) + 1)
            connection.execute(insert(CatalogItem), [_item(i) for i in ids])
            pdq = rng.integers(0, 256, (len(ids), len(DIHEDRAL_NAMES), 32), dtype=np.uint8)
            digests = rng.integers(0, 256, (len(ids), 48), dtype=np.uint8)
            rows = [
                row
                for k, item_id in enumerate(ids)
                for row in _signals(item_id, pdq[k], digests[k].tobytes().hex())
            ]
            connection.execute(insert(CatalogSignal), rows)
    db.dispose()
    return time.perf_counter() - start


def _item(item_id: int) -> dict[str, object]:
    return {
        "id": item_id,
        "content_id": f"bench/{item_id}",
        "url": "",
        "state": "active",
        "content_type": "photo",
        "meta": {},
    }


def _signals(item_id: int, pdq: np.ndarray, digests: str) -> list[dict[str, object]]:
    rows = [
        _signal(item_id, "pdq", variant, pdq[k].tobytes().hex(), 100)
        for k, variant in enumerate(DIHEDRAL_NAMES)
    ]
    rows.append(_signal(item_id, "md5", "original", digests[:32], None))
    rows.append(_signal(item_id, "sha256", "original", digests[32:], None))
    return rows


def _signal(
    item_id: int, kind: str, variant: str, value: str, quality: int | None
) -> dict[str, object]:
    return {
        "item_id": item_id,
        "signal_type": kind,
        "variant": variant,
        "value": value,
        "value_key": value[:64],
        "quality": quality,
    }


def child(url: str) -> None:
    """Runs in a fresh process: one ``load_all``, printed as JSON on the last line."""
    import resource

    from hashwall.service.catalog_index import CatalogIndex
    from hashwall.store import create_database

    db = create_database(url)
    catalog = CatalogIndex()
    with db.session() as session:
        start = time.perf_counter()
        catalog.load_all(session)
        seconds = time.perf_counter() - start
    db.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "items": len(catalog)}))


def measure(url: str, src: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", url]
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"load with {src} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(name: str, runs: list[dict[str, float]]) -> float:
    best = min(runs, key=lambda r: r["seconds"])
    seconds = ", ".join(f"{r['seconds']:.2f}" for r in runs)
    print(
        f"{name}: best {best['seconds']:.2f} s (runs {seconds}), peak RSS "
        f"{max(r['peak_rss_mb'] for r in runs):,.0f} MB, {int(best['items']):,} items",
        flush=True,
    )
    return float(best["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="catalog items (10 rows each)")
    parser.add_argument("--keep-db", type=Path, help="SQLite file to keep between runs")
    parser.add_argument("--compare-src", type=Path, help="another checkout's src to load with")
    parser.add_argument("--repeat", type=int, default=3, help="loads per implementation")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="hashwall-catalog-") as scratch:
        path = args.keep_db or Path(scratch) / "catalog.db"
        if path.exists():
            print(f"catalog: reusing {path}")
        else:
            seconds = write_catalog(path, args.n)
            print(f"catalog: {args.n:,} items ({10 * args.n:,} signal rows) in {seconds:.1f} s")
        sources = {"this": Path(__file__).resolve().parent.parent / "src"}
        if args.compare_src:
            sources["previous"] = args.compare_src
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
        for _ in range(args.repeat):
            for name, src in sources.items():
                runs[name].append(measure(f"sqlite:///{path}", src))
        best = {name: report(name, results) for name, results in runs.items()}
        if "previous" in best:
            print(f"this / previous: {best['this'] / best['previous']:.2f}x the time")


if __name__ == "__main__":
    main()
