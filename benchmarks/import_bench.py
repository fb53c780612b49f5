"""Benchmark ``POST /v1/banks/{id}/imports`` at bank scale, with matching measured beside it.

    python benchmarks/import_bench.py                          # 200k PDQ hashes, SQLite
    python benchmarks/import_bench.py --hashes 1000000         # the issue's target
    python benchmarks/import_bench.py --hashes 1000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python benchmarks/import_bench.py --hashes 10000000 --keep-file /tmp/10m.csv
    python benchmarks/import_bench.py --hashes 100000 --src /tmp/old/src   # the old code

Steps:

1. a fresh database (a SQLite file in a temp folder, or a scratch schema of the PostgreSQL
   database given, dropped afterwards), a bank, a curator key and a matcher key;
2. a CSV of N random PDQ hashes (``pdq,<hex>``) with one *planted* hash in the middle;
3. ``hashwall serve`` (one worker) and a small warm-up import of 1,000 hashes, so that half
   of the probes below match (and so write match records, which on SQLite need the write
   lock the import holds) and half miss;
4. **baseline**: a separate probe process sends single-hash ``POST /v1/match/hashes``
   requests back to back for ``--baseline-seconds``: p50/p99/max latency;
5. **import**: the CSV is posted while the probes go on; the wall time from the first byte
   sent to the answer gives hashes/s. The planted hash must match right after the answer
   (the live index has it), and the answer's ``sweep`` field is reported;
6. probe latencies during the import, split at the answer.

The probe process and the server share the machine (2 cores here) with the client, so the
latencies are those of a busy box. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

from hashwall.service.auth import Role, create_api_key
from hashwall.store import Bank, create_database, upgrade
from hashwall.store.db import scratch_schema

SECRET = "benchmark-secret-0123456789abcdef"
_WARM_UP = 1_000
_LINES_PER_WRITE = 100_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def random_hashes(rng: np.random.Generator, count: int) -> list[str]:
    return [row.tobytes().hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def write_csv(path: Path, count: int, planted: str, seed: int) -> None:
    """``count`` lines ``pdq,<hex>``; the planted hash is line ``count // 2``."""
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        out.write("signal_type,signal_value\n")
        for start in range(0, count, _LINES_PER_WRITE):
            values = random_hashes(rng, min(_LINES_PER_WRITE, count - start))
            middle = count // 2 - start
            if 0 <= middle < len(values):
                values[middle] = planted
            out.write("".join(f"pdq,{value}\n" for value in values))


@contextlib.contextmanager
def database(url: str, directory: Path) -> Iterator[str]:
    if not url:
        yield f"sqlite:///{directory / 'hashwall.db'}"
        return
    with scratch_schema(url, prefix="hw_import_bench") as scratch:
        yield scratch


def prepare(url: str) -> tuple[int, str, str]:
    """(bank id, curator key, matcher key) in a migrated database."""
    db = create_database(url)
    try:
        upgrade(db.engine)
        with db.session() as session:
            bank = Bank(name="import-bench")
            session.add(bank)
            session.flush()
            bank_id = bank.id
        curator = create_api_key(db, SECRET, Role.CURATOR, "bench-curator")[1]
        matcher = create_api_key(db, SECRET, Role.MATCHER, "bench-matcher")[1]
        return bank_id, curator, matcher
    finally:
        db.dispose()


@contextlib.contextmanager
def serve(url: str, data_dir: Path, key: str, max_upload: int, src: str) -> Iterator[int]:
    """``hashwall serve`` with one worker (imported from ``src`` when given)."""
    port = free_port()
    env = {
        **os.environ,
        "HASHWALL_SECRET_KEY": SECRET,
        "HASHWALL_DATABASE_URL": url,
        "HASHWALL_DATA_DIR": str(data_dir),
        "HASHWALL_MAX_UPLOAD_BYTES": str(max_upload),
    }
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    command = [sys.executable, "-c", "from hashwall.cli.app import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                    break
            if server.poll() is not None:
                raise SystemExit("the server exited during start-up")
            time.sleep(0.05)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(120)


def _probe(
    port: int,
    key: str,
    queries: list[str],
    stop: multiprocessing.synchronize.Event,
    out: multiprocessing.Queue[list[tuple[float, float, bool]]],
) -> None:
    """Single-hash match requests back to back: (sent at, latency s, ok) each."""
    samples: list[tuple[float, float, bool]] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        i = 0
        while not stop.is_set():
            body = {"queries": [{"signal_type": "pdq", "signal_value": queries[i % len(queries)]}]}
            sent = time.time()
            response = client.post("/v1/match/hashes", json=body, headers={"X-API-Key": key})
            samples.append((sent, time.time() - sent, response.status_code == 200))
            i += 1
    out.put(samples)


def import_file(port: int, key: str, bank_id: int, path: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    with path.open("rb") as handle:
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/banks/{bank_id}/imports",
            headers={"X-API-Key": key},
            files={"file": (path.name, handle, "text/csv")},
            timeout=None,
        )
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"import failed: {response.status_code} {response.text[:500]}")
    return seconds, response.json()


def matches(port: int, key: str, value: str) -> bool:
    body = {"queries": [{"signal_type": "pdq", "signal_value": value}]}
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/match/hashes",
        json=body,
        headers={"X-API-Key": key},
        timeout=60,
    )
    return bool(response.json()["results"][0]["matched"])


def latency_line(name: str, samples: list[tuple[float, float, bool]]) -> str:
    if not samples:
        return f"{name}: no requests"
    ms = np.asarray([s[1] for s in samples]) * 1000
    failed = sum(1 for s in samples if not s[2])
    return (
        f"{name}: {len(ms)} requests, p50 {np.percentile(ms, 50):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms, {failed} failed"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hashes", type=int, default=200_000, help="PDQ hashes to import")
    parser.add_argument("--database-url", default="", help="PostgreSQL (default: SQLite)")
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    parser.add_argument("--keep-file", type=Path, help="write the CSV here once, reuse it")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--src", default="", help="serve from this checkout's src (say, main's)")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed + 1)
    planted = random_hashes(rng, 1)[0]
    warm = random_hashes(rng, _WARM_UP)
    misses = random_hashes(rng, _WARM_UP)
    with tempfile.TemporaryDirectory(prefix="hw-import-bench-") as temp:
        directory = Path(temp)
        path = args.keep_file or directory / "hashes.csv"
        if not path.exists():
            started = time.perf_counter()
            write_csv(path, args.hashes, planted, args.seed)
            print(f"wrote {args.hashes:,} hashes in {time.perf_counter() - started:.1f} s")
        else:  # the planted hash of a kept file: its middle line
            with path.open() as handle:
                for number, line in enumerate(handle):
                    if number == args.hashes // 2 + 1:
                        planted = line.strip().split(",")[1]
                        break
        size = path.stat().st_size
        with database(args.database_url, directory) as url:
            run(args, url, directory, path, size, planted, warm, misses)


def run(
    args: argparse.Namespace,
    url: str,
    directory: Path,
    path: Path,
    size: int,
    planted: str,
    warm: list[str],
    misses: list[str],
) -> None:
    bank_id, curator, matcher = prepare(url)
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    with serve(url, directory / "data", matcher, size + 1024 * 1024, args.src) as port:
        warm_path = directory / "warm.csv"
        warm_path.write_text("".join(f"pdq,{value}\n" for value in warm))
        import_file(port, curator, bank_id, warm_path)
        queries = [v for pair in zip(warm, misses, strict=True) for v in pair]
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        out: multiprocessing.Queue[list[tuple[float, float, bool]]] = context.Queue()
        prober = context.Process(target=_probe, args=(port, matcher, queries, stop, out))
        prober.start()
        time.sleep(args.baseline_seconds)
        began = time.time()
        seconds, answer = import_file(port, curator, bank_id, path)
        answered = time.time()
        found = matches(port, matcher, planted)
        time.sleep(1.0)
        stop.set()
        samples = out.get(timeout=120)
        prober.join()
    count = int(str(answer["entry_count"]))
    server = f"server from {args.src}" if args.src else "this checkout's server"
    print(f"{kind}, {count:,} PDQ hashes ({size / 1e6:.0f} MB CSV), one worker, {server}")
    print(
        f"import: {seconds:.1f} s, {count / seconds:,.0f} hashes/s (upload, parse, write, "
        f"index and answer); sweep: {answer.get('sweep', '-')}; planted hash matches: {found}"
    )
    print(latency_line("match, baseline", [s for s in samples if s[0] < began]))
    print(
        latency_line("match, during the import", [s for s in samples if began <= s[0] < answered])
    )
    print(latency_line("match, after the import", [s for s in samples if s[0] >= answered]))
    if not found:
        raise SystemExit("the planted hash did not match")


if __name__ == "__main__":
    main()
