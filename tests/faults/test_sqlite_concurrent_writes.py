"""Concurrent adds and withdrawals on SQLite, from two workers, under a match load (issue 19).

Why: SQLite takes one writer at a time. Writes used to be refused with "database is locked"
within 0.1-0.3 s when they collided, so a curator's add or a person's withdrawal failed for no
reason of theirs. Writes must wait for their turn instead: none is refused, every one answered
201/200 is stored (and matchable), and nothing is stored that was not answered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.fault_support import (
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


def test_concurrent_writes_on_sqlite_wait_for_their_turn(tmp_path: Path) -> None:
    from tests.faults.fault_support import Load

    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{data_dir / 'hashwall.db'}"
    data_dir.mkdir()
    key = admin_key(database_url)
    seeds = [random_pdq() for _ in range(5)]
    with hashwall_serve(database_url, data_dir, tmp_path / "serve.log") as server:
        bank_id = create_bank(server.url, key, "concurrent", seeds)
        load = Load(server.url, key, bank_id, seeds)
        load.start(matchers=2, adders=4, withdrawers=2)
        try:
            wait_until(
                lambda: len(load.ledger.adds) + len(load.ledger.withdrawals) >= WRITES,
                45,
                f"{WRITES} writes answered",
            )
        finally:
            ledger = load.finish()
        problems = final_problems(server, key, bank_id, ledger, drops_allowed=False)
        refused = ledger.count("refused") + ledger.count("unknown")
        if refused:
            problems.append(f"{refused} writes were not accepted (none may be refused)")
        assert not problems, "\n".join([summary(ledger), *problems[:30], server.log_tail()])
        assert len(ledger.withdrawals) > 10, summary(ledger)  # the withdrawals did collide
