"""Concurrent adds, withdrawals and imports on SQLite, from two workers, under a match load
(issue 19).

Why: SQLite takes one writer at a time. Writes used to be refused with "database is locked"
within 0.1-0.3 s when they collided, so a curator's add or a person's withdrawal failed for no
reason of theirs. Writes must wait for their turn instead: none is refused, every one answered
201/200 is stored (and matchable), and nothing is stored that was not answered. Imports (one
big transaction each) run alongside, the longest holders of the write lock.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.faults.fault_support import (
    Load,
    admin_key,
    create_bank,
    final_problems,
    hashwall_serve,
    random_pdq,
    summary,
    wait_until,
)

pytestmark = pytest.mark.faults

#: Writes each run sends; enough that collisions are certain with 6 writer threads.
WRITES = 240
IMPORTS = 4
IMPORT_ROWS = 200


def import_problems(url: str, key: str, bank_id: int, stop: threading.Event) -> list[str]:
    """Import ``IMPORTS`` CSV files into ``bank_id`` while the load runs; what went wrong.

    Each import answered 201 must report its sweep and its hashes must all match."""
    try:
        return _imports(url, key, bank_id, stop)
    except Exception as error:  # a thread's exception would otherwise go unseen
        return [f"the importer failed: {error!r}"]


def _imports(url: str, key: str, bank_id: int, stop: threading.Event) -> list[str]:
    problems = []
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
        for number in range(IMPORTS):
            if stop.is_set():
                problems.append(f"only {number} of {IMPORTS} imports ran during the load")
                break
            hashes = [random_pdq() for _ in range(IMPORT_ROWS)]
            rows = "".join(f"pdq,{value}\n" for value in hashes)
            response = client.post(
                f"/v1/banks/{bank_id}/imports",
                files={"file": ("bank.csv", rows.encode(), "text/csv")},
                data={"format": "csv", "idempotency_key": f"concurrent-{number}"},
            )
            if response.status_code != 201:
                problems.append(f"import {number}: {response.status_code} {response.text[:200]}")
                continue
            answer = response.json()
            if answer.get("sweep") not in ("done", "pending"):
                problems.append(f"import {number}: 201 without sweep done/pending: {answer}")
            queries = [{"signal_type": "pdq", "signal_value": value} for value in hashes]
            matched = client.post("/v1/match/hashes", json={"queries": queries})
            if matched.status_code != 200:
                problems.append(f"import {number}: match answered {matched.status_code}")
            elif missing := sum(not r["matched"] for r in matched.json()["results"]):
                problems.append(f"import {number}: {missing} of its hashes do not match")
    return problems


def test_concurrent_writes_on_sqlite_wait_for_their_turn(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{data_dir / 'hashwall.db'}"
    data_dir.mkdir()
    key = admin_key(database_url)
    seeds = [random_pdq() for _ in range(5)]
    with hashwall_serve(database_url, data_dir, tmp_path / "serve.log") as server:
        bank_id = create_bank(server.url, key, "concurrent", seeds)
        import_bank = create_bank(server.url, key, "imports", [])
        load = Load(server.url, key, bank_id, seeds)
        load.start(matchers=2, adders=4, withdrawers=2)
        imported: list[str] = []
        importer = threading.Thread(
            target=lambda: imported.extend(
                import_problems(server.url, key, import_bank, load.stop)
            ),
            daemon=True,
        )
        importer.start()
        try:
            wait_until(
                lambda: len(load.ledger.adds) + len(load.ledger.withdrawals) >= WRITES,
                45,
                f"{WRITES} writes answered",
            )
        finally:
            ledger = load.finish()
            importer.join(60)
        problems = final_problems(server, key, bank_id, ledger, drops_allowed=False) + imported
        refused = ledger.count("refused") + ledger.count("unknown")
        if refused:
            problems.append(f"{refused} writes were not accepted (none may be refused)")
        assert not problems, "\n".join([summary(ledger), *problems[:30], server.log_tail()])
        assert len(ledger.withdrawals) > 10, summary(ledger)  # the withdrawals did collide
