"""SIGKILL of a worker under load (issue 19).

Why: a worker can die at any instant (the OOM killer, a crash in a C extension). Requests it
was serving lose their connection, and the client cannot know whether those writes were
stored; everything else must hold: every write answered 2xx is stored and matchable, nothing
is stored that no client sent, every answered match has its match record, every error is JSON,
and the server replaces the worker and goes on serving.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

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

#: Writes answered before the kill, and again after the replacement worker is up.
WRITES_EACH_SIDE = 30


def test_a_killed_worker_loses_no_answered_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database_url = f"sqlite:///{data_dir / 'hashwall.db'}"
    key = admin_key(database_url)
    seeds = [random_pdq() for _ in range(5)]
    with hashwall_serve(database_url, data_dir, tmp_path / "serve.log", workers=2) as server:
        bank_id = create_bank(server.url, key, "kill", seeds)
        load = Load(server.url, key, bank_id, seeds)
        load.start(matchers=2, adders=2, withdrawers=1)
        try:
            wait_until(lambda: len(load.ledger.adds) >= WRITES_EACH_SIDE, 30, "writes before")
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            wait_until(
                lambda: victim not in (pids := server.worker_pids()) and len(pids) == 2,
                30,
                f"a new worker replaces {victim}",
            )
            before = len(load.ledger.adds)
            wait_until(
                lambda: len(load.ledger.adds) >= before + WRITES_EACH_SIDE,
                30,
                "writes after the replacement",
            )
        finally:
            ledger = load.finish()
        assert server.process.poll() is None, server.log_tail()
        problems = final_problems(server, key, bank_id, ledger, drops_allowed=True)
        assert not problems, "\n".join([summary(ledger), *problems[:30], server.log_tail()])
        assert ledger.count("ok") >= WRITES_EACH_SIDE, summary(ledger)
