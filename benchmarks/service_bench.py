"""Benchmark the matching service on loopback: start-up with a large bank, match-by-hash load.

    python benchmarks/service_bench.py                         # 1M PDQ hashes, SQLite, 20 s load
    python benchmarks/service_bench.py --n 100000 --seconds 5  # quick run
    python benchmarks/service_bench.py --database-url postgresql://postgres@127.0.0.1/test

Steps: (1) write N entries with one PDQ hash each straight into a fresh database (bulk
INSERTs, timed separately; not the API path); (2) start ``hashwall serve`` and time until
``/v1/health`` answers, i.e. migrations plus loading the index; (3) for ``--seconds``, run
``--concurrency`` concurrent clients (asyncio + httpx, one process) posting
``/v1/match/hashes`` with one query each - half near-duplicates of banked hashes (which must
match), half random (which must not) - and report requests/s and latency percentiles.

The load generator shares the machine with the server (2 cores here), so the figures are a
floor for a server with its own cores. Everything runs on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import insert, text

from hashwall.service.auth import Role, create_api_key
from hashwall.store import Bank, Entry, EntrySignal, create_database, upgrade

SECRET = "benchmark-secret-0123456789abcdef"
_CHUNK = 20_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill_bank(url: str, hashes: np.ndarray) -> tuple[str, float]:
    """Fresh schema, N active entries (one PDQ each), and a matcher key."""
    db = create_database(url)
    upgrade(db.engine)
    start = time.perf_counter()
    with db.session() as session:
        bank = Bank(name=f"bench-{os.getpid()}-{time.time_ns()}")
        session.add(bank)
        session.flush()
        bank_id = bank.id
        first_id = int(session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM entries")) or 0) + 1
    hex_values = [row.tobytes().hex() for row in hashes]
    for start_row in range(0, len(hex_values), _CHUNK):
        chunk = range(start_row, min(start_row + _CHUNK, len(hex_values)))
        with db.session() as session:
            session.execute(
                insert(Entry),
                [
                    {
                        "id": first_id + i,
                        "bank_id": bank_id,
                        "state": "active",
                        "content_type": "photo",
                        "label": "",
                        "source": "bench",
                        "case_ref": "",
                        "meta": {},
                    }
                    for i in chunk
                ],
            )
            session.execute(
                insert(EntrySignal),
                [
                    {
                        "entry_id": first_id + i,
                        "signal_type": "pdq",
                        "variant": "original",
                        "value": hex_values[i],
                        "value_key": hex_values[i],
                        "quality": 100,
                    }
                    for i in chunk
                ],
            )
    fill_seconds = time.perf_counter() - start
    _row, key = create_api_key(db, SECRET, Role.MATCHER, "bench")
    db.dispose()
    return key, fill_seconds


def near(hashes: np.ndarray, rng: np.random.Generator, count: int) -> list[str]:
    """``count`` queries: half banked hashes with 0-20 flipped bits, half uniform random."""
    queries = []
    for i in range(count):
        if i % 2 == 0:
            row = hashes[rng.integers(len(hashes))].copy()
            bits = np.unpackbits(row)
            flip = rng.choice(256, size=int(rng.integers(0, 21)), replace=False)
            bits[flip] ^= 1
            queries.append(np.packbits(bits).tobytes().hex())
        else:
            queries.append(rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex())
    return queries


async def load(
    url: str, key: str, queries: list[str], seconds: float, concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    wrong = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            nonlocal wrong
            i = offset
            while time.perf_counter() < stop_at:
                query = queries[i % len(queries)]
                body = {"queries": [{"signal_type": "pdq", "signal_value": query}]}
                sent = time.perf_counter()
                response = await client.post(
                    "/v1/match/hashes", json=body, headers={"X-API-Key": key}
                )
                latencies.append(time.perf_counter() - sent)
                matched = response.json()["results"][0]["matched"]
                if matched != (i % len(queries) % 2 == 0):
                    wrong += 1
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "wrong": wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="PDQ hashes in the bank")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hashwall-bench-") as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        rng = np.random.default_rng(7)
        hashes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
        key, fill_seconds = fill_bank(url, hashes)
        print(f"bank: {args.n:,} PDQ hashes written in {fill_seconds:.1f} s")

        port = free_port()
        env = {**os.environ, "HASHWALL_SECRET_KEY": SECRET, "HASHWALL_DATABASE_URL": url}
        started = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from hashwall.cli.app import main; main()",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None:
                    raise SystemExit("the server exited during start-up")
                time.sleep(0.05)
            startup = time.perf_counter() - started
            # The first worker up answers health; wait for the index by matching once.
            print(f"start-up (migrate + load index, {args.workers} worker(s)): {startup:.1f} s")
            queries = near(hashes, rng, 2000)
            result = asyncio.run(load(base, key, queries, args.seconds, args.concurrency))
            print(
                f"match by hash: {result['requests']:,} requests, {result['rps']:,.0f} req/s, "
                f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                f"wrong answers {result['wrong']}"
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


if __name__ == "__main__":
    main()
