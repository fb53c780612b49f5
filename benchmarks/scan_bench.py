"""``hashwall scan`` throughput on a WARC of synthetic 1-megapixel JPEGs: per core locally,
and the same pipeline on a local two-CPU Ray cluster (Ray's overhead shows as the gap).

Why: issue 13 asks for a per-core rate to size scans (docs/scan.md turns it into cores and
hours for a billion images). Scanning a WARC is decode + hash bound: reading the archive and
matching against the bank are small next to decoding a JPEG, which this benchmark shows by
comparing with the bare hashing rate of the same files.

Run: ``python benchmarks/scan_bench.py`` (``--quick`` for a smoke run; ``--no-ray`` without
Ray). Needs the scan extra (warcio, ray). Everything is written to a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

from hashwall.hashing import HashMode, HashOptions, hash_file
from hashwall.hashing.batch import default_jobs
from hashwall.scan.banks import BankSpec
from hashwall.scan.pipeline import BATCH_ITEMS, ScanConfig, run_scan
from hashwall.scan.worker import WorkerConfig

SIZE = (1155, 866)  # 1.0 megapixel, 4:3
BANK_SIZE = 10_000
#: The start-up scan: one batch per worker, so every worker of a pool of 2 starts in it.
STARTUP_IMAGES = 2 * BATCH_ITEMS


def synthetic_jpeg(rng: np.random.Generator) -> bytes:
    """Smooth shapes plus grain: JPEG sizes (~150-300 kB) like photos', not like flat art."""
    coarse = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(SIZE, Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-12, 13, (*SIZE[::-1], 3))
    out = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


def write_warc(path: Path, count: int, seed: int = 7) -> list[bytes]:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    rng = np.random.default_rng(seed)
    pictures = [synthetic_jpeg(rng) for _ in range(count)]
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for number, data in enumerate(pictures):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], "HTTP/1.1")
            record = writer.create_warc_record(
                f"http://bench.example/{number}.jpg",
                "response",
                payload=io.BytesIO(data),
                http_headers=headers,
            )
            writer.write_record(record)
    return pictures


def write_bank(path: Path, known: list[bytes], folder: Path) -> None:
    """Random PDQ hashes plus the real hashes of a few pictures in the WARC (CSV bank)."""
    rows = ["signal_type,signal_value"]
    rng = random.Random(1)
    rows += [f"pdq,{rng.getrandbits(256):064x}" for _ in range(BANK_SIZE)]
    for number, data in enumerate(known):
        picture = folder / f"known{number}.jpg"
        picture.write_bytes(data)
        record = hash_file(picture)
        assert record.pdq is not None
        rows.append(f"pdq,{record.pdq.hash}")
    path.write_text("\n".join(rows) + "\n")


def run(warc: Path, bank: Path, mode: HashMode, jobs: int, ray: str | None) -> dict[str, Any]:
    options = HashOptions(mode=mode)
    config = ScanConfig(
        WorkerConfig(BankSpec((str(bank),)), options), (warc,), jobs=jobs, ray_address=ray
    )
    started = time.perf_counter()
    cpu = time.process_time()
    with open(os.devnull, "w") as sink:
        summary = run_scan(config, sink)
    wall = time.perf_counter() - started
    return {
        "hashed": summary.media_hashed,
        "matches": summary.matches,
        "wall": wall,
        "driver_cpu": time.process_time() - cpu,
        "worker_cpu": summary.worker_cpu_seconds,
    }


def bare_hashing(pictures: list[bytes], folder: Path, mode: HashMode) -> float:
    """hash_file alone on the same JPEGs (files already on disk): the ceiling per core."""
    paths = []
    for number, data in enumerate(pictures):
        path = folder / f"bare{number}.jpg"
        path.write_bytes(data)
        paths.append(path)
    options = HashOptions(mode=mode)
    hash_file(paths[0], options)  # first call: imports and lazy set-up, not hashing
    with threadpool_limits(1):  # as in scan workers: one core each
        started = time.process_time()
        for path in paths:
            hash_file(path, options)
    return len(paths) / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--quick", action="store_true", help="48 images")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--jobs", default="1,2", help="process pool sizes, e.g. 1,2,8")
    args = parser.parse_args()
    count = 48 if args.quick else args.images
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        warc, small, bank = folder / "bench.warc.gz", folder / "small.warc.gz", folder / "bank.csv"
        pictures = write_warc(warc, count)
        write_warc(small, STARTUP_IMAGES, seed=8)
        write_bank(bank, pictures[:4], folder)
        megabytes = warc.stat().st_size / 1e6
        print(f"{count} JPEGs of {SIZE[0]}x{SIZE[1]}, WARC.gz {megabytes:.1f} MB; bank of")
        print(f"{BANK_SIZE + 4} PDQ hashes; {default_jobs()} logical cores; load")
        print(f"{os.getloadavg()[0]:.1f} at start")
        for mode in (HashMode.EXACT, HashMode.FAST):
            bare = bare_hashing(pictures[:48], folder, mode)
            rows.append(Row(f"{mode}: hash_file alone, no scan", bare, bare, 0.0, 1, None))
            for jobs in (int(j) for j in args.jobs.split(",")):
                name = f"{mode}: scan, {'1 process' if jobs == 1 else f'process pool of {jobs}'}"
                rows.append(steady(name, warc, small, bank, mode, jobs, None, count))
            if not args.no_ray:
                rows.append(_ray_row(warc, small, bank, mode, count))
    print("\n| run | images/s (wall) | per core (wall) | per CPU-second | start-up s |", end="")
    print(" driver ms/image |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        driver = "" if row.driver_ms is None else f"{row.driver_ms:.2f}"
        print(
            f"| {row.name} | {row.wall_rate:.1f} | {row.wall_rate / row.workers:.1f} | "
            f"{row.cpu_rate:.1f} | {row.start_up:.1f} | {driver} |"
        )


@dataclass(frozen=True)
class Row:
    name: str
    wall_rate: float  # images/s over the whole scan, start-up included, all workers together
    cpu_rate: float  # images per worker CPU-second: the per-core rate, whatever the load
    start_up: float  # seconds to scan a 16-image WARC (worker start, bank load, 16 images)
    workers: int
    driver_ms: float | None  # CPU of the process reading the WARC, per image


def steady(
    name: str,
    warc: Path,
    small: Path,
    bank: Path,
    mode: HashMode,
    jobs: int,
    ray: str | None,
    count: int,
) -> Row:
    """A 16-image scan first (start-up; on Ray it also leaves the workers warm, with the bank
    loaded, as in a long scan), then the full WARC."""
    tiny = run(small, bank, mode, jobs, ray)
    full = run(warc, bank, mode, jobs, ray)
    assert full["matches"] == 4, full
    driver = None if jobs == 1 else 1000 * full["driver_cpu"] / count
    return Row(name, count / full["wall"], count / full["worker_cpu"], tiny["wall"], jobs, driver)


def _ray_row(warc: Path, small: Path, bank: Path, mode: HashMode, count: int) -> Row:
    """The same scan as tasks on a fresh local Ray cluster of 2 CPUs. The cluster's own start
    (several seconds) is left out: a scan at scale joins a running cluster."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        return steady(f"{mode}: scan on Ray, 2 CPUs", warc, small, bank, mode, 2, "auto", count)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
