"""Abuse benchmark (issue 14): what unauthenticated bodies cost a running server, on loopback.

    python benchmarks/abuse_bench.py                          # this checkout's server
    python benchmarks/abuse_bench.py --compare-src /tmp/old/src   # and an older one, same run

For each server (``hashwall serve`` in production mode, ``--workers`` processes, a fresh
SQLite database with a bank of ``--n`` PDQ hashes and a matcher key), while two client
threads keep matching one hash per request:

0. baseline: match latency with nothing else going on;
1. ``--bombs`` pixel-bomb removal requests in parallel to the public
   ``POST /v1/takedown/requests`` (multipart, no key): a valid PNG of ``--bomb-side`` squared
   bilevel pixels, a few kilobytes of zlib;
2. ``--chunked`` parallel ``Transfer-Encoding: chunked`` JSON bodies of up to
   ``--chunked-mib`` MiB each to ``POST /v1/banks`` without a key.

Per phase it prints the peak resident memory of all server processes together (sampled every
20 ms from /proc), match latency p50/p99, the answers the abusive requests got and how long
they took, and how much of each chunked body the client got to send before the answer.

Bounded on purpose: everything is on 127.0.0.1, each phase has a request count and a time
limit, and a server whose processes pass ``--rss-cap-mib`` together is killed (reported as
such) so an old, unprotected server cannot take the shared machine down. The default bomb
(6000 x 6000) keeps the old server's ten parallel decodes within that cap; ``--bomb-side
15000`` is the report's file (about 2.6 GB per decode on the old server).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from service_bench import SECRET, descendants, fill_bank, free_port

CHUNK = 64 * 1024


# ---------------------------------------------------------------------- the abusive inputs


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel_bomb(side: int) -> bytes:
    """A complete, valid bilevel PNG of ``side`` x ``side`` white pixels (tiny when zipped)."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def removal_request() -> str:
    return json.dumps(
        {
            "requester_name": "Bench Example",
            "contact_email": "bench@example.org",
            "relation": "depicted_person",
            "good_faith": True,
            "signature": {"full_name": "Bench Example", "signed_at": datetime.now(UTC).isoformat()},
            "jurisdiction": "US",
        }
    )


@dataclass
class Outcome:
    status: int | str
    seconds: float
    sent_mib: float = 0.0


def post_bomb(port: int, bomb: bytes, timeout: float) -> Outcome:
    started = time.perf_counter()
    try:
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/takedown/requests",
            data={"request": removal_request()},
            files={"file": ("bomb.png", bomb, "image/png")},
            timeout=timeout,
        )
        status: int | str = response.status_code
    except httpx.HTTPError as error:
        status = type(error).__name__
    return Outcome(status, time.perf_counter() - started)


def post_chunked(port: int, mib: int, timeout: float) -> Outcome:
    """Stream chunked JSON without a key until the server answers, closes, or ``mib`` MiB."""
    started = time.perf_counter()
    sent = 0
    head = (
        b"POST /v1/banks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = f"{CHUNK:x}\r\n".encode() + b"[" + b" " * (CHUNK - 1) + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        answer = b""
        try:
            while sent < mib * 1024 * 1024 and time.perf_counter() - started < timeout:
                sock.setblocking(False)
                try:
                    answer = sock.recv(4096)
                except BlockingIOError:
                    answer = b""
                sock.setblocking(True)
                if answer:
                    break
                sock.sendall(piece)
                sent += CHUNK
            if not answer:
                sock.sendall(b"0\r\n\r\n")
                sock.settimeout(max(1.0, timeout - (time.perf_counter() - started)))
                answer = sock.recv(4096)
        except OSError as error:  # reset or timed out: the server stopped reading
            answer = answer or str(type(error).__name__).encode()
    status: int | str = answer.decode("latin-1")
    if answer.startswith(b"HTTP/1.1 "):
        status = int(answer[9:12])
    return Outcome(status, time.perf_counter() - started, sent / (1024 * 1024))


# ---------------------------------------------------------------------- watching the server


class RssSampler:
    """Peak of the summed resident memory of a process tree, sampled every 20 ms; kills the
    tree past ``cap_mib`` (the benchmark must not take the machine down)."""

    def __init__(self, pid: int, cap_mib: float, kill: Callable[[], None]) -> None:
        self.pid = pid
        self.cap_mib = cap_mib
        self.kill = kill
        self.peak_mib = 0.0
        self.killed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current_mib(self) -> float:
        total = 0
        try:
            pids = descendants(self.pid)
        except OSError:
            return 0.0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def reset(self) -> None:
        self.peak_mib = self.current_mib()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            now = self.current_mib()
            self.peak_mib = max(self.peak_mib, now)
            if now > self.cap_mib and not self.killed:
                self.killed = True
                self.kill()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Latencies:
    values: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> str:
        if not self.values:
            return f"no answers ({self.errors} errors)"
        p50, p99 = np.percentile(np.array(self.values) * 1000, [50, 99])
        worst = max(self.values) * 1000
        return (
            f"match p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.0f} ms "
            f"({len(self.values)} requests, {self.errors} errors)"
        )


class Matcher:
    """Two client threads matching one hash per request, each on a keep-alive connection."""

    def __init__(self, port: int, key: str, query: str) -> None:
        self.url = f"http://127.0.0.1:{port}/v1/match/hashes"
        self.body = {"queries": [{"signal_type": "pdq", "signal_value": query}]}
        self.headers = {"X-API-Key": key}
        self.current = Latencies()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.post(self.url, json=self.body, headers=self.headers).is_success
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - started
                if ok:
                    self.current.values.append(elapsed)
                else:
                    self.current.errors += 1
                    time.sleep(0.05)

    def phase(self) -> Latencies:
        """Start a new tally; returns the one that ends."""
        ended, self.current = self.current, Latencies()
        return ended

    def __enter__(self) -> Matcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


# ---------------------------------------------------------------------- one server


@contextmanager
def serve(data_dir: Path, url: str, workers: int, src: str) -> Iterator[tuple[int, int]]:
    """``hashwall serve`` in production mode; yields (port, pid)."""
    port = free_port()
    env = {
        **os.environ,
        "HASHWALL_ENV": "production",
        "HASHWALL_SECRET_KEY": SECRET,
        "HASHWALL_DATABASE_URL": url,
        "HASHWALL_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(Path(src).resolve()),
    }
    command = [sys.executable, "-c", "from hashwall.cli.app import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                stderr = server.stderr.read().decode() if server.stderr else ""
                raise SystemExit(f"the server did not start: {stderr[-2000:]}")
            time.sleep(0.1)
        time.sleep(1.0)  # let every worker finish loading
        yield port, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_server(label: str, src: str, args: argparse.Namespace) -> None:
    """Both phases, each on a freshly started server (freed memory is not always returned to
    the system, so a phase after another would start from the first one's peak)."""
    print(f"\n== {label}: server from {src}")
    bomb = pixel_bomb(args.bomb_side)
    for phase in ("bombs", "chunked"):
        with _server(src, args) as (port, pid, key, query):

            def kill(pid: int = pid) -> None:
                for child in reversed(descendants(pid)):
                    os.kill(child, signal.SIGKILL)

            with RssSampler(pid, args.rss_cap_mib, kill) as rss, Matcher(port, key, query) as m:
                rss.reset()
                time.sleep(args.baseline_seconds)
                print(f"baseline: peak RSS {rss.peak_mib:.0f} MiB; {m.phase().summary()}")
                rss.reset()
                if phase == "bombs":
                    outcomes = _parallel(args.bombs, lambda: post_bomb(port, bomb, args.timeout))
                    title = (
                        f"(a) {args.bombs} parallel pixel bombs ({args.bomb_side}x"
                        f"{args.bomb_side}, {len(bomb) / 1024:.0f} KB)"
                    )
                else:
                    outcomes = _parallel(
                        args.chunked, lambda: post_chunked(port, args.chunked_mib, args.timeout)
                    )
                    title = (
                        f"(b) {args.chunked} parallel chunked bodies without a key (up to "
                        f"{args.chunked_mib} MiB each)"
                    )
                time.sleep(0.5)
                killed = " (killed at the cap)" if rss.killed else ""
                print(f"{title}: peak RSS {rss.peak_mib:.0f} MiB{killed}; {m.phase().summary()}")
                slowest = max(o.seconds for o in outcomes)
                line = f"    answers {_counts(outcomes)}; slowest {slowest:.1f} s"
                if phase == "chunked":
                    sent = ", ".join(f"{o.sent_mib:.1f}" for o in outcomes)
                    line += f"; MiB sent before the answer: {sent}"
                print(line)


@contextmanager
def _server(src: str, args: argparse.Namespace) -> Iterator[tuple[int, int, str, str]]:
    """A fresh database with the bank, and the server on it: (port, pid, key, a query)."""
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="hashwall-abuse-") as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'hashwall.db'}"
        key, _seconds, _bank = fill_bank(url, hashes)
        with serve(data_dir, url, args.workers, src) as (port, pid):
            yield port, pid, key, hashes[0].tobytes().hex()


def _parallel(count: int, call: Callable[[], Outcome]) -> list[Outcome]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def _counts(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[str(outcome.status)] = counts.get(str(outcome.status), 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-src", default="", help="also run the server from this src")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--n", type=int, default=20_000, help="PDQ hashes in the bank")
    parser.add_argument("--bombs", type=int, default=10, help="parallel pixel-bomb uploads")
    parser.add_argument("--bomb-side", type=int, default=6000, help="bomb width = height")
    parser.add_argument("--chunked", type=int, default=3, help="parallel chunked bodies")
    parser.add_argument("--chunked-mib", type=int, default=100, help="MiB per chunked body")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    parser.add_argument(
        "--rss-cap-mib", type=float, default=6000.0, help="kill a server above this (all procs)"
    )
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    if args.compare_src:
        run_server("compared", args.compare_src, args)
    run_server("this checkout", here, args)


if __name__ == "__main__":
    main()
