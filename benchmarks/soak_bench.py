"""Soak: ``hashwall serve`` under a mixed load for minutes, RSS of each process over time.

Why (issue 19): a leak shows only over time (a cache that never evicts, match records held
after their commit, a connection pool that grows after errors), and per worker: the
supervisor's RSS says nothing about a worker's. This runs ``hashwall serve --workers W`` on a
fresh SQLite database (or ``--database-url``), imports a bank of ``--n`` random PDQ hashes
through the import API, then drives ``--clients`` threads for ``--seconds``: 90 % matches
(half of them near a banked hash, so match records are written), 5 % adds, 5 % withdrawals of
entries added during the run. Every ``--sample-every`` seconds it reads the RSS of the parent
and of each worker from /proc. At the end: RSS over time, errors by status and code, and
latency percentiles per operation.

    PYTHONPATH=src python benchmarks/soak_bench.py              # 10 minutes
    PYTHONPATH=src python benchmarks/soak_bench.py --seconds 120 --sample-every 10
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SECRET = "soak-bench-secret-0123456789abcdef"
IMPORT_CHUNK = 20_000
MIX: dict[str, float] = {"match": 0.90, "add": 0.05, "withdraw": 0.05}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- processes


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def worker_pids(parent: int) -> list[int]:
    """uvicorn's workers: children started by multiprocessing's ``spawn_main`` (not the
    resource tracker)."""
    workers = []
    for pid in children(parent):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            workers.append(pid)
    return workers


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def admin_key(database_url: str) -> str:
    from hashwall.service.auth import Role, create_api_key
    from hashwall.store import create_database, upgrade

    db = create_database(database_url)
    try:
        upgrade(db.engine)
        return create_api_key(db, SECRET, Role.ADMIN, "soak")[1]
    finally:
        db.dispose()


def start_server(
    database_url: str, data_dir: Path, workers: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    env.update(
        HASHWALL_DATABASE_URL=database_url,
        HASHWALL_DATA_DIR=str(data_dir),
        HASHWALL_SECRET_KEY=SECRET,
    )
    command = [sys.executable, "-c", "from hashwall.cli.app import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log"]
    log = (data_dir.parent / "serve.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"hashwall serve exited; see {log.name}")
        try:
            healthy = httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
            if healthy and len(worker_pids(server.pid)) == workers:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("hashwall serve did not answer within 120 s")


# ---------------------------------------------------------------------- the bank


def random_hash(rng: random.Random) -> str:
    return rng.getrandbits(256).to_bytes(32, "big").hex()


def near(value: str, rng: random.Random) -> str:
    """``value`` with 0-20 bits flipped: still a match (PDQ threshold 31)."""
    number = int(value, 16)
    for bit in rng.sample(range(256), rng.randint(0, 20)):
        number ^= 1 << bit
    return number.to_bytes(32, "big").hex()


def fill_bank(client: httpx.Client, hashes: list[str]) -> tuple[int, float]:
    """A bank of ``hashes`` through the import API (CSV, in chunks); (bank id, seconds)."""
    created = client.post("/v1/banks", json={"name": f"soak-{time.time_ns()}"})
    created.raise_for_status()
    bank_id = int(created.json()["id"])
    start = time.perf_counter()
    for first in range(0, len(hashes), IMPORT_CHUNK):
        rows = "".join(f"pdq,{value}\n" for value in hashes[first : first + IMPORT_CHUNK])
        response = client.post(
            f"/v1/banks/{bank_id}/imports",
            files={"file": ("bank.csv", rows.encode(), "text/csv")},
            data={"format": "csv", "idempotency_key": f"soak-{first}"},
            timeout=600,
        )
        if response.status_code != 201:
            raise SystemExit(f"import failed: {response.status_code} {response.text[:300]}")
    return bank_id, time.perf_counter() - start


def wait_until_loaded(url: str, key: str, value: str, seconds: float = 120) -> None:
    """Until ten fresh connections in a row (either worker) match ``value``."""
    deadline = time.monotonic() + seconds
    body = {"queries": [{"signal_type": "pdq", "signal_value": value}]}
    in_a_row = 0
    while in_a_row < 10:
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not load the bank in time")
        response = httpx.post(
            f"{url}/v1/match/hashes",
            json=body,
            headers={"X-API-Key": key, "Connection": "close"},
            timeout=30,
        )
        matched = response.status_code == 200 and response.json()["results"][0]["matched"]
        in_a_row = in_a_row + 1 if matched else 0
        if not matched:
            time.sleep(0.2)


# ---------------------------------------------------------------------- the load


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    added: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        with self.lock:
            return sum(len(values) for values in self.latencies.values())


def error_code(response: httpx.Response) -> str:
    """The stable error code, or what the answer was instead of the JSON error shape."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"not JSON ({response.headers.get('content-type', '')})"
    try:
        error = response.json()["error"]
        item = error[0] if isinstance(error, list) else error
        return str(item.get("code", "no code"))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return "not an error object"


def one_request(
    client: httpx.Client, op: str, rng: random.Random, bank: list[str], bank_id: int, tally: Tally
) -> None:
    if op == "withdraw":
        with tally.lock:
            entry_id = tally.added.pop(rng.randrange(len(tally.added))) if tally.added else None
        if entry_id is None:
            op = "add"
    started = time.perf_counter()
    try:
        if op == "match":
            value = near(rng.choice(bank), rng) if rng.random() < 0.5 else random_hash(rng)
            body = {"queries": [{"signal_type": "pdq", "signal_value": value}]}
            response = client.post("/v1/match/hashes", json=body)
        elif op == "add":
            body = {"hashes": [{"signal_type": "pdq", "signal_value": random_hash(rng)}]}
            response = client.post(f"/v1/banks/{bank_id}/entries", json=body)
        else:
            response = client.post(f"/v1/entries/{entry_id}/withdraw")
    except httpx.TransportError as error:
        with tally.lock:
            tally.outcomes[(op, "dropped", type(error).__name__)] += 1
        return
    elapsed = time.perf_counter() - started
    with tally.lock:
        tally.latencies.setdefault(op, []).append(elapsed)
        if response.is_success:
            tally.outcomes[(op, str(response.status_code), "")] += 1
            if op == "add":
                tally.added.append(int(response.json()["id"]))
        else:
            tally.outcomes[(op, str(response.status_code), error_code(response))] += 1


def client_loop(
    url: str, key: str, bank: list[str], bank_id: int, tally: Tally, stop: float, seed: int
) -> None:
    rng = random.Random(seed)
    ops, weights = list(MIX), list(MIX.values())
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
        while time.monotonic() < stop:
            one_request(client, rng.choices(ops, weights)[0], rng, bank, bank_id, tally)


@dataclass
class Sample:
    seconds: float
    requests: int
    rss: dict[str, float | None]


def sample(parent: int, started: float, tally: Tally, names: dict[int, str]) -> Sample:
    """RSS of the parent and of every worker now; a worker started later gets a new column."""
    rss: dict[str, float | None] = {"parent": rss_mib(parent)}
    for pid in worker_pids(parent):
        name = names.setdefault(pid, f"worker {len(names)} ({pid})")
        rss[name] = rss_mib(pid)
    return Sample(time.monotonic() - started, tally.total(), rss)


def run_load(
    server: subprocess.Popen[bytes],
    url: str,
    key: str,
    bank: list[str],
    bank_id: int,
    args: argparse.Namespace,
) -> tuple[Tally, list[Sample], float]:
    tally = Tally()
    names: dict[int, str] = {}
    started = time.monotonic()
    stop = started + args.seconds
    threads = [
        threading.Thread(
            target=client_loop, args=(url, key, bank, bank_id, tally, stop, seed), daemon=True
        )
        for seed in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    samples = [sample(server.pid, started, tally, names)]
    print_sample(samples[-1], None)
    while time.monotonic() < stop:
        time.sleep(min(args.sample_every, max(0.0, stop - time.monotonic())))
        samples.append(sample(server.pid, started, tally, names))
        print_sample(samples[-1], samples[-2])
    for thread in threads:
        thread.join(120)
    return tally, samples, time.monotonic() - started


# ---------------------------------------------------------------------- the report


def print_sample(now: Sample, before: Sample | None) -> None:
    rate = (
        (now.requests - before.requests) / (now.seconds - before.seconds)
        if before and now.seconds > before.seconds
        else 0.0
    )
    columns = ", ".join(f"{name} {value:.0f} MiB" for name, value in now.rss.items() if value)
    print(f"  t={now.seconds:5.0f} s  {rate:6.0f} req/s  {columns}", flush=True)


def rss_table(samples: list[Sample]) -> str:
    names = list(dict.fromkeys(name for s in samples for name in s.rss))
    lines = ["| t (s) | requests | " + " | ".join(f"{n} RSS MiB" for n in names) + " |"]
    lines.append("| ---: | ---: |" + " ---: |" * len(names))
    for s in samples:
        cells = [f"{s.rss[n]:.1f}" if s.rss.get(n) else "-" for n in names]
        lines.append(f"| {s.seconds:.0f} | {s.requests} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(samples: list[Sample]) -> str:
    """RSS growth of each process from the end of the warm-up (the first sample at a quarter of
    the run, at most 60 s in) to the end: the figure a leak shows in."""
    end = samples[-1]
    warm_at = min(60.0, end.seconds / 4)
    warm = next((s for s in samples if s.seconds >= warm_at), samples[0])
    parts = []
    for name, last in end.rss.items():
        first = warm.rss.get(name)
        if first and last:
            parts.append(f"{name} {last - first:+.1f} MiB")
    return f"RSS growth from t={warm.seconds:.0f} s to t={end.seconds:.0f} s: " + ", ".join(parts)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(tally: Tally, samples: list[Sample], seconds: float) -> None:
    print("\nRSS over time\n")
    print(rss_table(samples))
    print("\n" + growth(samples))
    print(
        f"\n{tally.total()} answered requests in {seconds:.0f} s ({tally.total() / seconds:.0f}/s)"
    )
    print("\n| operation | count | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: |")
    for op, values in sorted(tally.latencies.items()):
        print(
            f"| {op} | {len(values)} | {percentile(values, 0.5) * 1e3:.1f} | "
            f"{percentile(values, 0.99) * 1e3:.1f} | {max(values) * 1e3:.1f} |"
        )
    print("\n| operation | status | code | count |\n| --- | --- | --- | ---: |")
    for (op, status, code), count in sorted(tally.outcomes.items()):
        print(f"| {op} | {status} | {code or '-'} | {count} |")


def log_summary(log: Path) -> str:
    """How many tracebacks the server logged, and the last exception (the log is deleted)."""
    lines = log.read_text(errors="replace").splitlines()
    tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    last = next((line for line in reversed(lines) if "Error" in line and ":" in line), "")
    return f"\nserver log: {tracebacks} tracebacks" + (f"; last: {last[:300]}" if last else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the mixed load")
    parser.add_argument("--n", type=int, default=100_000, help="PDQ hashes in the bank")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--clients", type=int, default=4, help="client threads (one connection each)"
    )
    parser.add_argument(
        "--sample-every", type=float, default=30.0, help="seconds between RSS samples"
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()
    rng = random.Random(19)
    bank = [random_hash(rng) for _ in range(args.n)]
    with tempfile.TemporaryDirectory(prefix="hashwall-soak-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir(mode=0o700)
        database_url = args.database_url or f"sqlite:///{data_dir / 'hashwall.db'}"
        key = admin_key(database_url)
        server, url = start_server(database_url, data_dir, args.workers)
        try:
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
                bank_id, import_seconds = fill_bank(client, bank)
            print(f"bank: {args.n:,} PDQ hashes imported in {import_seconds:.1f} s")
            wait_until_loaded(url, key, bank[-1])
            print(
                f"load: {args.seconds:.0f} s, {args.clients} clients, {args.workers} workers, "
                f"mix {', '.join(f'{op} {share:.0%}' for op, share in MIX.items())}"
            )
            tally, samples, seconds = run_load(server, url, key, bank, bank_id, args)
        finally:
            server.terminate()
            server.wait(60)
        report(tally, samples, seconds)
        print(log_summary(Path(tmp) / "serve.log"))


if __name__ == "__main__":
    main()
