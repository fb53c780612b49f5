"""Benchmark the matching service on loopback: start-up with a large bank, match-by-hash load,
match-by-upload load, each next to a baseline measured in the same run.

    python benchmarks/service_bench.py                         # 1M PDQ hashes, SQLite
    python benchmarks/service_bench.py --n 100000 --seconds 5  # quick run
    python benchmarks/service_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    python benchmarks/service_bench.py --keep-db /tmp/bank.db  # write the bank once, reuse it
    python benchmarks/service_bench.py --keep-db /tmp/bank.db --compare-src /tmp/old/src

Steps:

1. write N entries with one PDQ hash each straight into a fresh database (bulk INSERTs, timed
   separately; not the API path);
2. the load generator's own ceiling: the same client against a trivial HTTP server (a fixed
   200 answer, no framework) - the most this client can drive on this machine;
3. start ``hashwall serve`` with one worker and time until a match request answers (migrations
   plus loading the index), then stop it;
4. start ``hashwall serve --workers W`` and, ``--repeat`` times each, load ``GET /v1/health``
   (the framework's ceiling: no key, no body, no index) and ``POST /v1/match/hashes`` with one
   query each - half near-duplicates of banked hashes (which must match, and so write match
   records), half random (which must not); report the best run's requests/s, p50/p99 latency,
   wrong answers, server and client CPU per request, and match/health as the ratio;
5. ``--upload-seconds`` of ``POST /v1/match/upload`` with 1-megapixel JPEGs.

``--compare-src DIR`` repeats step 4 with the server imported from another checkout's ``src``
(say, a ``git worktree`` of the previous commit), interleaving the two servers run by run, so
a change is measured against its predecessor under the same machine load.

The load generator is a separate process: raw HTTP/1.1 keep-alive connections on asyncio
(uvloop when installed), pre-encoded requests, a closed loop of ``--concurrency`` connections.
It shares the machine with the server (2 cores here), so figures are a floor for a server with
its own cores; the CPU columns say where the cores went. Everything runs on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import delete, insert, select, text

from _bank_rows import entry_row, signal_row
from hashwall.service.auth import Role, create_api_key
from hashwall.store import (
    ApiKey,
    Bank,
    Entry,
    EntrySignal,
    MatchRecord,
    create_database,
    upgrade,
)

SECRET = "benchmark-secret-0123456789abcdef"
_CHUNK = 20_000
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- the bank


def fill_bank(url: str, hashes: np.ndarray) -> tuple[str, float, int]:
    """Fresh schema, N active entries (one PDQ each), and a matcher key; returns the key,
    the seconds the INSERTs took and the bank's id."""
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
            session.execute(insert(Entry), [entry_row(first_id + i, bank_id) for i in chunk])
            session.execute(
                insert(EntrySignal), [signal_row(first_id + i, hex_values[i]) for i in chunk]
            )
    fill_seconds = time.perf_counter() - start
    _row, key = create_api_key(db, SECRET, Role.MATCHER, "bench")
    db.dispose()
    return key, fill_seconds, bank_id


def kept_bank(path: Path, hashes: np.ndarray) -> tuple[str, str, int]:
    """``--keep-db``: the SQLite bank written by an earlier run with the same ``--n`` (its
    match records emptied), or a new one kept for the next run; returns (url, key, bank id)."""
    url = f"sqlite:///{path.resolve()}"
    meta = path.with_name(path.name + ".json")
    if path.exists() and meta.exists():
        saved = json.loads(meta.read_text())
        if saved["n"] == len(hashes):
            db = create_database(url)
            upgrade(db.engine)
            with db.session() as session:
                session.execute(delete(MatchRecord))
            db.dispose()
            print(f"bank: {len(hashes):,} PDQ hashes reused from {path}")
            return url, str(saved["key"]), int(saved["bank_id"])
    path.unlink(missing_ok=True)
    key, fill_seconds, bank_id = fill_bank(url, hashes)
    meta.write_text(json.dumps({"n": len(hashes), "key": key, "bank_id": bank_id}))
    print(f"bank: {len(hashes):,} PDQ hashes written in {fill_seconds:.1f} s (kept in {path})")
    return url, key, bank_id


def remove_bank(url: str, bank_id: int, key: str) -> None:
    """Delete what the benchmark wrote into a database it does not own (PostgreSQL)."""
    db = create_database(url)
    entries = select(Entry.id).where(Entry.bank_id == bank_id)
    with db.session() as session:
        session.execute(delete(MatchRecord).where(MatchRecord.bank_id == bank_id))
        session.execute(delete(EntrySignal).where(EntrySignal.entry_id.in_(entries)))
        session.execute(delete(Entry).where(Entry.bank_id == bank_id))
        session.execute(delete(Bank).where(Bank.id == bank_id))
        session.execute(delete(ApiKey).where(ApiKey.name == "bench", ApiKey.prefix == key[:8]))
    db.dispose()


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


# ---------------------------------------------------------------------- requests


def http_request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """One pre-encoded HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def match_requests(key: str, queries: list[str]) -> tuple[list[bytes], list[bool | None]]:
    """Match-by-hash requests and whether each must match (even positions: near-duplicates)."""
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    requests = [
        http_request(
            "POST",
            "/v1/match/hashes",
            json.dumps({"queries": [{"signal_type": "pdq", "signal_value": q}]}).encode(),
            headers,
        )
        for q in queries
    ]
    return requests, [i % 2 == 0 for i in range(len(queries))]


def upload_requests(key: str, count: int, seed: int = 11) -> list[bytes]:
    """``count`` different 1-megapixel JPEGs (1224 x 816) as multipart match uploads."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    requests = []
    for i in range(count):
        noise = rng.integers(0, 256, (102, 153, 3), dtype=np.uint8)
        picture = Image.fromarray(noise).resize((1224, 816), Image.Resampling.BICUBIC)
        picture = picture.filter(ImageFilter.GaussianBlur(3))
        jpeg = io.BytesIO()
        picture.save(jpeg, "JPEG", quality=85)
        boundary = f"hashwallbench{i}"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="p{i}.jpg"'
                "\r\nContent-Type: image/jpeg\r\n\r\n"
            ).encode()
            + jpeg.getvalue()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"X-API-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        requests.append(http_request("POST", "/v1/match/upload", body, headers))
    return requests


# ---------------------------------------------------------------------- load generator


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p99_matched_ms: float  # requests expected to match (their records are written first)
    wrong: int  # a match answer that disagrees with the expectation
    errors: int  # non-200 answers
    client_cpu_s: float
    server_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def cpu_us(self, seconds: float) -> float:
        return 1e6 * seconds / max(self.requests, 1)

    def line(self, name: str) -> str:
        return (
            f"{name}: {self.requests:,} requests, {self.rps:,.0f} req/s, "
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms "
            f"(matching requests {self.p99_matched_ms:.2f} ms), "
            f"wrong {self.wrong}, errors {self.errors}; CPU per request: "
            f"server {self.cpu_us(self.server_cpu_s):.0f} us, "
            f"client {self.cpu_us(self.client_cpu_s):.0f} us"
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lowered = head.lower()
    at = lowered.find(b"content-length:")
    if at < 0:
        raise RuntimeError("response without content-length")
    end = lowered.index(b"\r\n", at)
    body = await reader.readexactly(int(lowered[at + 15 : end]))
    return head, body


@dataclass
class Tally:
    """What the connections of one load run saw."""

    requests: list[bytes]
    expect: list[bool | None]
    latencies: list[float] = field(default_factory=list)
    matching: list[bool] = field(default_factory=list)
    wrong: int = 0
    errors: int = 0

    def check(self, i: int, head: bytes, body: bytes, latency: float) -> None:
        wanted = self.expect[i % len(self.expect)]
        self.latencies.append(latency)
        self.matching.append(wanted is True)
        if not head.startswith(b"HTTP/1.1 200"):
            self.errors += 1
        elif wanted is not None:
            matched = b'"matched":true' in body or b'"matched": true' in body
            self.wrong += matched != wanted


async def _closed_loop(port: int, tally: Tally, first: int, step: int, stop_at: float) -> None:
    """One connection sending its next request as soon as the last is answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = first
    try:
        while (sent := time.perf_counter()) < stop_at:
            writer.write(tally.requests[i % len(tally.requests)])
            head, body = await _read_response(reader)
            tally.check(i, head, body, time.perf_counter() - sent)
            i += step if step % 2 else step + 1  # odd: each connection alternates the mix
    finally:
        writer.close()


async def _open_loop(
    port: int, tally: Tally, due: asyncio.Queue[tuple[int, float]], connected: _Countdown
) -> None:
    """One connection of an open loop: requests are due on a fixed schedule, and latency
    counts from when a request was due, so a slow server cannot slow the offered load
    (no coordinated omission). The schedule starts once every connection is open: opening
    64 of them took the first ~200 ms, and the requests due meanwhile (over 1 %) counted as
    slow answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connected.done_one()
    try:
        while (job := await due.get())[0] >= 0:
            i, scheduled = job
            writer.write(tally.requests[i % len(tally.requests)])
            head, body = await _read_response(reader)
            tally.check(i, head, body, time.perf_counter() - scheduled)
    finally:
        writer.close()


class _Countdown:
    """Set once ``count`` connections are open."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.event = asyncio.Event()

    def done_one(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.event.set()


async def _schedule(
    due: asyncio.Queue[tuple[int, float]],
    rate: float,
    seconds: float,
    connections: int,
    connected: _Countdown,
) -> None:
    await connected.event.wait()
    start = time.perf_counter()
    total = int(rate * seconds)
    sent = 0
    while sent < total:
        now_due = min(total, int((time.perf_counter() - start) * rate) + 1)
        for i in range(sent, now_due):
            due.put_nowait((i, start + i / rate))
        sent = now_due
        # libuv timers tick in whole milliseconds: a shorter sleep would spin the client.
        await asyncio.sleep(0.001)
    for _ in range(connections):
        due.put_nowait((-1, 0.0))


async def _drive(
    port: int,
    requests: list[bytes],
    expect: list[bool | None],
    seconds: float,
    concurrency: int,
    rate: float | None,
) -> LoadResult:
    tally = Tally(requests, expect)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if rate is None:
        stop_at = started + seconds
        jobs = [_closed_loop(port, tally, k, concurrency, stop_at) for k in range(concurrency)]
    else:
        due: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
        connected = _Countdown(concurrency)
        jobs = [_open_loop(port, tally, due, connected) for _ in range(concurrency)]
        jobs.append(_schedule(due, rate, seconds, concurrency, connected))
    await asyncio.gather(*jobs)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    ms = np.asarray(tally.latencies or [0.0]) * 1000
    matched_ms = ms[np.asarray(tally.matching, dtype=bool)] if any(tally.matching) else ms
    return LoadResult(
        len(tally.latencies),
        elapsed,
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 99)),
        float(np.percentile(matched_ms, 99)),
        tally.wrong,
        tally.errors,
        (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime),
    )


def _loadgen_process(
    port: int,
    requests: list[bytes],
    expect: list[bool | None],
    seconds: float,
    concurrency: int,
    rate: float | None,
    out: multiprocessing.queues.Queue,  # type: ignore[type-arg]
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio works, at a higher CPU cost per request
        pass
    out.put(asyncio.run(_drive(port, requests, expect, seconds, concurrency, rate)))


def run_load(
    port: int,
    requests: list[bytes],
    expect: list[bool | None],
    seconds: float,
    concurrency: int,
    server_pids: list[int],
    rate: float | None = None,
) -> LoadResult:
    """Drive the server from a separate process: ``concurrency`` connections in a closed loop,
    or, with ``rate``, offering that many requests/s (open loop). The server's CPU is
    measured over the same span."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(
        target=_loadgen_process, args=(port, requests, expect, seconds, concurrency, rate, out)
    )
    process.start()
    before = cpu_seconds(server_pids)
    result: LoadResult = out.get(timeout=seconds + 120)
    result.server_cpu_s = cpu_seconds(server_pids) - before
    process.join()
    return result


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of processes (and their waited-for children), from /proc."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:13]) / _CLOCK_TICKS  # utime, stime
    return total


def descendants(pid: int) -> list[int]:
    found = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += descendants(int(child))
    return found


# ---------------------------------------------------------------------- servers


def _trivial_server(port: int, ready: multiprocessing.synchronize.Event) -> None:
    """A fixed 200 answer per request: the load generator's ceiling, no framework cost."""
    answer = b'HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{"status":"ok"}'

    class Fixed(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                self.buffer = self.buffer[end + 4 :]
                self.transport.write(answer)  # type: ignore[attr-defined]

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Fixed, "127.0.0.1", port)
        ready.set()
        await server.serve_forever()

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve())


def generator_ceiling(seconds: float, concurrency: int) -> LoadResult:
    context = multiprocessing.get_context("spawn")
    port = free_port()
    ready = context.Event()
    server = context.Process(target=_trivial_server, args=(port, ready), daemon=True)
    server.start()
    ready.wait(30)
    try:
        request = http_request("GET", "/v1/health")
        assert server.pid is not None
        return run_load(port, [request], [None], seconds, concurrency, [server.pid])
    finally:
        server.terminate()
        server.join()


@contextmanager
def serve(
    url: str, workers: int, key: str, probe: bytes, access_log: bool = False, src: str = ""
) -> Iterator[tuple[int, subprocess.Popen[bytes], float]]:
    """``hashwall serve`` (from ``src`` when given); yields (port, process, seconds until a
    match request answered)."""
    port = free_port()
    env = {**os.environ, "HASHWALL_SECRET_KEY": SECRET, "HASHWALL_DATABASE_URL": url}
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    started = time.perf_counter()
    command = [sys.executable, "-c", "from hashwall.cli.app import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--access-log" if access_log else "--no-access-log"]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        body = json.loads(probe)
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/v1/match/hashes",
                    json=body,
                    headers={"X-API-Key": key},
                    timeout=1,
                )
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit("the server exited during start-up")
            time.sleep(0.05)
        startup = time.perf_counter() - started
        time.sleep(1.0 if workers > 1 else 0.2)  # let the other workers finish loading
        yield port, server, startup
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def best(results: list[LoadResult], by_p99: bool = False) -> LoadResult:
    """The run least disturbed by the machine's other users."""
    if by_p99:
        return min(results, key=lambda r: r.p99_ms)
    return max(results, key=lambda r: r.rps)


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="PDQ hashes in the bank")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--repeat", type=int, default=3, help="load runs each; the best is shown")
    parser.add_argument("--concurrency", type=int, default=16, help="client connections")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="open-loop run: requests/s offered (0: skip)"
    )
    parser.add_argument(
        "--open-connections", type=int, default=64, help="connections of the open-loop run"
    )
    parser.add_argument("--upload-seconds", type=float, default=10.0, help="0: skip uploads")
    parser.add_argument(
        "--access-log", action="store_true", help="keep uvicorn's per-request log line on"
    )
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument(
        "--keep-db",
        type=Path,
        default=None,
        help="SQLite file holding the bank: written once, reused by later runs with the same --n",
    )
    parser.add_argument(
        "--compare-src",
        default="",
        help="also serve from this checkout's src (the previous implementation), run by run",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="skip the generator's ceiling and the 1-worker start-up measurement",
    )
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.2f}")
    ceiling = None
    if not args.quick:
        ceiling = best(
            [generator_ceiling(args.seconds, args.concurrency) for _ in range(args.repeat)]
        )
        print(ceiling.line("load generator vs a trivial server (its ceiling)"))

    with tempfile.TemporaryDirectory(prefix="hashwall-bench-") as scratch:
        rng = np.random.default_rng(7)
        hashes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
        owned = not args.database_url
        if args.keep_db is not None:
            url, key, bank_id = kept_bank(args.keep_db, hashes)
            owned = True
        else:
            url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
            key, fill_seconds, bank_id = fill_bank(url, hashes)
            print(
                f"bank: {args.n:,} PDQ hashes written in {fill_seconds:.1f} s ({url.split(':')[0]})"
            )
        try:
            requests, expect = match_requests(key, near(hashes, rng, 2000))
            probe = requests[0].split(b"\r\n\r\n", 1)[1]

            if not args.quick:
                with serve(url, 1, key, probe) as (_port, _server, startup):
                    print(
                        "start-up, 1 worker (migrate + load index, until a match answers): "
                        f"{startup:.1f} s"
                    )
            sources = {"this": ""}
            if args.compare_src:
                sources["previous"] = args.compare_src
            with ExitStack() as stack:
                servers = {}
                for name, src in sources.items():
                    port, server, startup = stack.enter_context(
                        serve(url, args.workers, key, probe, args.access_log, src)
                    )
                    servers[name] = (port, descendants(server.pid))
                    print(
                        f"server ({name}): {args.workers} worker(s), start-up {startup:.1f} s, "
                        f"load average {os.getloadavg()[0]:.2f}"
                    )
                load_all(args, servers, requests, expect, ceiling)
                if args.upload_seconds > 0:
                    port, pids = servers["this"]
                    uploads = upload_requests(key, 16)
                    u = run_load(
                        port, uploads, [False] * len(uploads), args.upload_seconds, 4, pids
                    )
                    print(u.line("POST /v1/match/upload, 1 MP JPEG, 4 connections"))
            print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        finally:
            if not owned:  # not our database: leave it as found
                remove_bank(url, bank_id, key)


def load_all(
    args: argparse.Namespace,
    servers: dict[str, tuple[int, list[int]]],
    requests: list[bytes],
    expect: list[bool | None],
    ceiling: LoadResult | None,
) -> None:
    """Health, closed-loop match and open-loop match runs, the servers taking turns."""
    health = [http_request("GET", "/v1/health")]
    runs: dict[tuple[str, str], list[LoadResult]] = {}
    for _ in range(args.repeat):
        for name, (port, pids) in servers.items():
            runs.setdefault((name, "health"), []).append(
                run_load(port, health, [None], args.seconds, args.concurrency, pids)
            )
            runs.setdefault((name, "match"), []).append(
                run_load(port, requests, expect, args.seconds, args.concurrency, pids)
            )
            if args.rate > 0:
                runs.setdefault((name, "open"), []).append(
                    run_load(
                        port,
                        requests,
                        expect,
                        args.seconds,
                        args.open_connections,
                        pids,
                        args.rate,
                    )
                )
            print(f"  ... round done ({name}), load average {os.getloadavg()[0]:.2f}")
    for name in servers:
        h, m = best(runs[name, "health"]), best(runs[name, "match"])
        print(f"[{name}]")
        print(h.line(f"GET /v1/health (framework ceiling), best of {args.repeat}"))
        print(m.line(f"POST /v1/match/hashes, 1M-style load, best of {args.repeat}"))
        ratio = f"match / health: {m.rps / h.rps:.2f}x"
        if ceiling is not None:
            ratio += f"; match / generator ceiling: {m.rps / ceiling.rps:.2f}x"
        print(ratio)
        print(f"all match runs (req/s): {', '.join(f'{r.rps:,.0f}' for r in runs[name, 'match'])}")
        if args.rate > 0:
            offered = best(runs[name, "open"], by_p99=True)
            print(
                offered.line(
                    f"POST /v1/match/hashes offered {args.rate:,.0f} req/s (open loop, "
                    f"{args.open_connections} connections), lowest p99 of {args.repeat}"
                )
            )
            print(
                "all open-loop runs (p99 ms / server us per request): "
                + ", ".join(
                    f"{r.p99_ms:.1f}/{r.cpu_us(r.server_cpu_s):.0f}" for r in runs[name, "open"]
                )
            )
    if "previous" in servers:
        this_m, prev_m = best(runs["this", "match"]), best(runs["previous", "match"])
        print(
            f"this / previous: closed loop {this_m.rps / prev_m.rps:.2f}x req/s, server CPU "
            f"per request {this_m.cpu_us(this_m.server_cpu_s):.0f} vs "
            f"{prev_m.cpu_us(prev_m.server_cpu_s):.0f} us"
        )
        if args.rate > 0:
            this_o = best(runs["this", "open"], by_p99=True)
            prev_o = best(runs["previous", "open"], by_p99=True)
            print(
                f"this / previous: open loop p99 {this_o.p99_ms:.1f} vs {prev_o.p99_ms:.1f} ms, "
                f"server CPU per request {this_o.cpu_us(this_o.server_cpu_s):.0f} vs "
                f"{prev_o.cpu_us(prev_o.server_cpu_s):.0f} us"
            )


if __name__ == "__main__":
    main()
