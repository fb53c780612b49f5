"""What the fault tests share: a real multi-worker ``hashwall serve``, a mixed load of matches,
adds and withdrawals whose every outcome is written down, and the checks of issue 19.

Why a ledger: under a fault the question is not "did a request fail" but "does the stored state
agree with what clients were told". Every add carries a label of its own (a UUID), so after the
run the bank's entries can be matched one by one with the answers: an add answered 201 must be
stored and matchable, an add refused must not be stored (unless the error said it may have
been), and nothing may be stored that no client asked for. A request whose connection dropped
(a SIGKILLed worker) has no answer: it is "unknown" and either outcome is allowed.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.server_support import HASHWALL, START_TIMEOUT, stop
from tests.service.test_end_to_end import free_port

SECRET = "fault-test-secret-0123456789abcdef"
#: Statuses a database fault may legitimately produce, and the error codes that go with them.
FAULT_CODES = {
    503: ("database_unavailable", "database_busy"),
    507: ("disk_full",),
    500: ("internal",),
}
#: How an error may say that its write may have been stored all the same (a commit whose
#: connection broke before the database confirmed it): these words in the message, one of these
#: codes, or ``"may_be_stored": true`` in the error object.
MAYBE_STORED = ("may have been",)
MAYBE_STORED_CODES = ("outcome_unknown", "commit_unknown", "may_be_stored")
REQUEST_TIMEOUT = 30.0


def random_pdq() -> str:
    """A random PDQ hash: two of them differ in ~128 bits, far beyond the match threshold of
    31, so each matches only itself."""
    return secrets.token_hex(32)


def admin_key(database_url: str) -> str:
    """Migrate ``database_url`` and make an admin key before the server starts (no race with
    the server's own migration)."""
    from hashwall.service.auth import Role, create_api_key
    from hashwall.store import create_database, upgrade

    db = create_database(database_url)
    try:
        upgrade(db.engine)
        return create_api_key(db, SECRET, Role.ADMIN, "faults")[1]
    finally:
        db.dispose()


# ---------------------------------------------------------------------- the server


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes: the spawned children of ``hashwall serve``.

        multiprocessing's resource tracker is a child too but not a worker, so only children
        started by ``spawn_main`` count."""
        return [pid for pid in children(self.process.pid) if _is_spawned_worker(pid)]

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc; psutil is not a dependency)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _is_spawned_worker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"spawn_main" in command and b"resource_tracker" not in command


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``condition`` until it holds; seconds it took. Raises AssertionError naming
    ``what`` after ``seconds``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - start


@contextmanager
def hashwall_serve(
    database_url: str, data_dir: Path, log: Path, workers: int = 2, **env: str
) -> Iterator[Server]:
    """``hashwall serve --workers N`` on a free loopback port; its output goes to ``log`` (a
    pipe could fill up under load and stall the server). Yields once every worker answers."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")}
    environment.update(
        HASHWALL_DATABASE_URL=database_url,
        HASHWALL_DATA_DIR=str(data_dir),
        HASHWALL_SECRET_KEY=SECRET,
        **env,
    )
    command = [*HASHWALL, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--no-access-log"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=out)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_serving(server, workers)
        yield server
    finally:
        stop(process, 15)


def _health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until_serving(server: Server, workers: int) -> None:
    def up() -> bool:
        if server.process.poll() is not None:
            raise RuntimeError(f"hashwall serve exited: {server.log_tail()}")
        return len(server.worker_pids()) == workers and _health(server.url)

    try:
        wait_until(up, START_TIMEOUT, "hashwall serve answers its health check")
    except AssertionError:
        raise RuntimeError(f"hashwall serve did not start: {server.log_tail()}") from None


# ---------------------------------------------------------------------- errors


def error_problems(response: httpx.Response) -> list[str]:
    """What is wrong with an error answer by the contract of issue 19 (empty: nothing).

    Every error is JSON, ``{"error": {"field", "message", "code"}}`` or, for validation, a
    list of such objects; a 503 carries ``Retry-After``; the known statuses carry their code."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return [f"{where}: content-type {content_type!r}, body {response.text[:200]!r}"]
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return [f"{where}: not an error object: {response.text[:200]!r}"]
    problems = []
    for item in error if isinstance(error, list) else [error]:
        if not isinstance(item, dict) or not {"field", "message", "code"} <= item.keys():
            problems.append(f"{where}: error lacks field/message/code: {item!r}")
        elif not isinstance(item["code"], str) or not item["code"]:
            problems.append(f"{where}: no stable code: {item!r}")
    expected = FAULT_CODES.get(response.status_code)
    code = error.get("code") if isinstance(error, dict) else None
    if expected and not problems and code not in expected:
        problems.append(f"{where}: code {code!r}, expected one of {expected}")
    if response.status_code == 503 and "retry-after" not in response.headers:
        problems.append(f"{where}: 503 without Retry-After")
    if "locked" in response.text.lower():
        problems.append(f"{where}: {response.text[:200]!r}")
    return problems


def says_maybe_stored(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    message = str(error.get("message", "")).lower()
    return (
        any(words in message for words in MAYBE_STORED)
        or error.get("code") in MAYBE_STORED_CODES
        or error.get("may_be_stored") is True
    )


# ---------------------------------------------------------------------- the ledger


@dataclass
class Outcome:
    """``ok``: answered 2xx; ``refused``: answered with an error that rules the write out;
    ``unknown``: no answer (connection dropped) or an error saying it may have been stored."""

    kind: str
    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    detail: str = ""  # the start of an error answer, or the transport error


@dataclass
class Ledger:
    """Every request of a load run and its outcome; thread-safe."""

    adds: dict[str, Outcome] = field(default_factory=dict)  # label -> outcome
    add_hashes: dict[str, str] = field(default_factory=dict)  # label -> PDQ
    withdrawals: dict[int, list[Outcome]] = field(default_factory=dict)  # entry id -> outcomes
    answered_matches: list[str] = field(default_factory=list)  # request ids of 200 answers
    errors: list[httpx.Response] = field(default_factory=list)
    error_problems: list[str] = field(default_factory=list)
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record_error(self, response: httpx.Response) -> None:
        with self.lock:
            self.errors.append(response)
            self.error_problems += error_problems(response)

    def count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for o in self.adds.values() if o.kind == kind) + sum(
                1 for outcomes in self.withdrawals.values() for o in outcomes if o.kind == kind
            )

    def statuses(self) -> dict[int, int]:
        with self.lock:
            found: dict[int, int] = {}
            for response in self.errors:
                found[response.status_code] = found.get(response.status_code, 0) + 1
            return found


def classify(ledger: Ledger, call: Callable[[], httpx.Response]) -> Outcome:
    """Send one write and write down what the client can know of its fate."""
    try:
        response = call()
    except httpx.TransportError as error:
        with ledger.lock:
            ledger.dropped += 1
        return Outcome("unknown", detail=repr(error))
    if response.is_success:
        return Outcome("ok", response.status_code, response.json())
    ledger.record_error(response)
    kind = "unknown" if says_maybe_stored(response) else "refused"
    return Outcome(kind, response.status_code, detail=response.text[:200])


@dataclass
class Load:
    """Client threads of matches, adds and withdrawals against one bank, until stopped.

    Each thread keeps one ``httpx.Client`` (one keep-alive connection) for its whole run, so
    a connection the server drops after an error shows up as a transport error."""

    url: str
    key: str
    bank_id: int
    seed_hashes: list[str]
    ledger: Ledger = field(default_factory=Ledger)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    metadata_bytes: int = 0

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-API-Key": self.key}, timeout=REQUEST_TIMEOUT
        )

    def start(self, matchers: int, adders: int, withdrawers: int) -> None:
        loops = [self._match] * matchers + [self._add] * adders + [self._withdraw] * withdrawers
        for number, loop in enumerate(loops):
            thread = threading.Thread(target=self._run, args=(loop, number), daemon=True)
            self.threads.append(thread)
            thread.start()

    def finish(self) -> Ledger:
        self.stop.set()
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT + 5)
        assert not any(t.is_alive() for t in self.threads), "a client thread hangs"
        assert not self.failures, f"a client thread failed: {self.failures[0]!r}"
        return self.ledger

    def _run(self, loop: Callable[[httpx.Client, random.Random], None], number: int) -> None:
        rng = random.Random(number)
        try:
            with self.client() as client:
                while not self.stop.is_set():
                    loop(client, rng)
        except BaseException as error:  # reported by finish()
            self.failures.append(error)

    def _match(self, client: httpx.Client, rng: random.Random) -> None:
        value = rng.choice(self.seed_hashes)
        body = {"queries": [{"signal_type": "pdq", "signal_value": value}]}
        try:
            response = client.post("/v1/match/hashes", json=body)
        except httpx.TransportError:
            with self.ledger.lock:
                self.ledger.dropped += 1
            return
        if response.status_code == 200:
            answer = response.json()
            with self.ledger.lock:
                if answer["results"][0]["matched"]:
                    self.ledger.answered_matches.append(answer["request_id"])
                else:  # a seed is never withdrawn: it must always match
                    self.ledger.error_problems.append(f"seed {value} did not match: {answer}")
        else:
            self.ledger.record_error(response)

    def add_one(self, client: httpx.Client) -> Outcome:
        label = f"fault-{uuid.uuid4()}"
        value = random_pdq()
        body: dict[str, Any] = {
            "hashes": [{"signal_type": "pdq", "signal_value": value}],
            "label": label,
        }
        if self.metadata_bytes:
            body["metadata"] = {"padding": secrets.token_hex(self.metadata_bytes // 2)}
        with self.ledger.lock:
            self.ledger.add_hashes[label] = value
        outcome = classify(
            self.ledger, lambda: client.post(f"/v1/banks/{self.bank_id}/entries", json=body)
        )
        with self.ledger.lock:
            self.ledger.adds[label] = outcome
        return outcome

    def _add(self, client: httpx.Client, _rng: random.Random) -> None:
        self.add_one(client)

    def _withdraw(self, client: httpx.Client, rng: random.Random) -> None:
        with self.ledger.lock:
            candidates = [
                o.body["id"]
                for o in self.ledger.adds.values()
                if o.kind == "ok" and o.body["id"] not in self.ledger.withdrawals
            ]
            if not candidates:
                entry_id = None
            else:
                entry_id = rng.choice(candidates)
                self.ledger.withdrawals[entry_id] = []
        if entry_id is None:
            time.sleep(0.01)  # nothing to withdraw yet; the adders are behind
            return
        outcome = classify(self.ledger, lambda: client.post(f"/v1/entries/{entry_id}/withdraw"))
        with self.ledger.lock:
            self.ledger.withdrawals[entry_id].append(outcome)


# ---------------------------------------------------------------------- setting up and checking


def create_bank(url: str, key: str, name: str, hashes: list[str]) -> int:
    """A bank holding ``hashes`` (the seeds the match load hits), added one by one."""
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
        response = client.post("/v1/banks", json={"name": name})
        assert response.status_code == 201, response.text
        bank_id = int(response.json()["id"])
        for number, value in enumerate(hashes):
            signal = {"signal_type": "pdq", "signal_value": value}
            body = {"hashes": [signal], "label": f"seed-{number}"}
            added = client.post(f"/v1/banks/{bank_id}/entries", json=body)
            assert added.status_code == 201, added.text
    if hashes:
        wait_until(lambda: all_seeds_match(url, key, hashes), 10, "every worker matches the seeds")
    return bank_id


def all_seeds_match(url: str, key: str, hashes: list[str], times: int = 10) -> bool:
    """Whether ``times`` matches in a row, each on a new connection (so either worker may
    answer), find every seed: the load's matches count a seed that does not match as a bug,
    so they start only once the workers have read the seeds from the change log."""
    queries = [{"signal_type": "pdq", "signal_value": value} for value in hashes]
    for _ in range(times):
        response = httpx.post(
            f"{url}/v1/match/hashes",
            json={"queries": queries},
            headers={"X-API-Key": key, "Connection": "close"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        if not all(result["matched"] for result in response.json()["results"]):
            return False
    return True


def stored_entries(client: httpx.Client, bank_id: int) -> dict[str, dict[str, Any]]:
    """Every entry of the bank by label (all states), page by page."""
    found: dict[str, dict[str, Any]] = {}
    after = 0
    while True:
        response = client.get(
            f"/v1/banks/{bank_id}/entries", params={"after_id": after, "limit": 1000}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        for entry in page["entries"]:
            assert entry["label"] not in found, f"two entries labelled {entry['label']}"
            found[entry["label"]] = entry
        if page["next_after_id"] is None:
            return found
        after = page["next_after_id"]


def stored_request_ids(client: httpx.Client) -> set[str]:
    ids: set[str] = set()
    after = 0
    while True:
        response = client.get("/v1/matches", params={"after_id": after, "limit": 1000})
        assert response.status_code == 200, response.text
        page = response.json()
        ids.update(record["request_id"] for record in page["records"])
        if page["next_after_id"] is None:
            return ids
        after = page["next_after_id"]


def write_problems(ledger: Ledger, stored: dict[str, dict[str, Any]]) -> list[str]:
    """Disagreements between what clients were told and what the bank holds, one line per kind
    of disagreement with its count and a few examples."""
    found: dict[str, list[str]] = {}

    def note(kind: str, example: str) -> None:
        found.setdefault(kind, []).append(example)

    for label, outcome in ledger.adds.items():
        entry = stored.get(label)
        if outcome.kind == "ok" and entry is None:
            note("adds answered 2xx but not stored", label)
        if outcome.kind == "refused" and entry is not None:
            note("adds refused but stored", f"{label} ({outcome.status}) as {entry['id']}")
        if outcome.kind == "ok" and outcome.body.get("sweep") not in ("done", "pending"):
            note("adds answered 201 without sweep done/pending", repr(outcome.body.get("sweep")))
    for label, entry in stored.items():
        if not label.startswith("seed-") and label not in ledger.adds:
            note("stored entries nobody sent", f"{entry['id']} ({label})")
    by_id = {entry["id"]: entry for entry in stored.values()}
    for entry_id, outcomes in ledger.withdrawals.items():
        kinds = {o.kind for o in outcomes}
        state = by_id[entry_id]["state"] if entry_id in by_id else None
        if "ok" in kinds and state != "withdrawn":
            note("withdrawals answered 200 but not stored", f"{entry_id} is {state}")
        if kinds == {"refused"} and state != "active":
            note("withdrawals refused but stored", f"{entry_id} is {state}")
    for entry in stored.values():
        if entry["state"] == "withdrawn" and entry["id"] not in ledger.withdrawals:
            note("entries withdrawn that nobody withdrew", str(entry["id"]))
    return [f"{len(items)} {kind}, e.g. {items[:3]}" for kind, items in found.items()]


def match_record_problems(ledger: Ledger, client: httpx.Client) -> list[str]:
    """Every answered match (each hits a seed entry) has its match records stored."""
    stored = stored_request_ids(client)
    missing = [rid for rid in ledger.answered_matches if rid not in stored]
    return [f"{len(missing)} answered matches without a match record, e.g. {missing[:3]}"] * bool(
        missing
    )


def unmatched(client: httpx.Client, ledger: Ledger, stored: dict[str, dict[str, Any]]) -> list[str]:
    """Labels of active entries answered 201 that a match request does not find."""
    wanted = {
        label: ledger.add_hashes[label]
        for label, outcome in ledger.adds.items()
        if outcome.kind == "ok" and stored.get(label, {}).get("state") == "active"
    }
    labels = list(wanted)
    missing = []
    for start in range(0, len(labels), 200):
        chunk = labels[start : start + 200]
        queries = [
            {"id": label, "signal_type": "pdq", "signal_value": wanted[label]} for label in chunk
        ]
        response = client.post("/v1/match/hashes", json={"queries": queries})
        assert response.status_code == 200, response.text
        missing += [r["id"] for r in response.json()["results"] if not r["matched"]]
    return missing


def final_problems(
    server: Server, key: str, bank_id: int, ledger: Ledger, *, drops_allowed: bool
) -> list[str]:
    """Everything issue 19 checks after a load run, as one list (so a failure shows all of it).

    ``drops_allowed``: only a killed worker may drop a connection; otherwise the server keeps
    every keep-alive connection usable, after an error too. Matchability is polled: another
    worker applies a change from the change log within its poll interval, and the answer may
    come from either worker."""
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
        stored = stored_entries(client, bank_id)
        problems = write_problems(ledger, stored) + match_record_problems(ledger, client)
        if ledger.dropped and not drops_allowed:
            problems.append(f"{ledger.dropped} requests lost their connection (no worker died)")
        missing: list[str] = []

        def all_match() -> bool:
            missing[:] = unmatched(client, ledger, stored)
            return not missing

        try:
            wait_until(all_match, 10, "every entry answered 201 matches")
        except AssertionError:
            problems.append(f"{len(missing)} entries answered 201 do not match: {missing[:3]}")
    return problems + counted(ledger.error_problems)


def counted(problems: list[str]) -> list[str]:
    """Repeated problems once each, with their count (ids blanked so that the same problem on
    different entries counts as one)."""
    counts = Counter(re.sub(r"/\d+/", "/N/", problem) for problem in problems)
    return [f"{count} x {problem}" for problem, count in counts.most_common()]


def unexpected_errors(ledger: Ledger, allowed: int, fault: str) -> list[str]:
    """Errors of another status than the fault's own, counted by route, status and code."""
    lines = []
    for response in ledger.errors:
        if response.status_code != allowed:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "(no code)"
            route = f"{response.request.method} {response.request.url.path}"
            lines.append(f"{route} -> {response.status_code} {code} ({fault}; expected {allowed})")
    return counted(lines)


def summary(ledger: Ledger) -> str:
    return (
        f"adds {len(ledger.adds)}, withdrawals {len(ledger.withdrawals)}, "
        f"matches answered {len(ledger.answered_matches)}, ok {ledger.count('ok')}, "
        f"refused {ledger.count('refused')}, unknown {ledger.count('unknown')}, "
        f"dropped {ledger.dropped}, errors by status {ledger.statuses()}"
    )
