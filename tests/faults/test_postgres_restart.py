"""PostgreSQL restarts under load (issue 19).

Why: a database restart (an upgrade, a failover) is routine. While it is down the service
must say so, as JSON 503 ``database_unavailable`` with ``Retry-After``, not as a text/plain
500; it must come back by itself within seconds once the database is back (stale pooled
connections replaced), and no answered write may be lost or unanswered write appear.

The cluster is a private one (``private_postgres``): the shared server is never restarted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
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
    unexpected_errors,
    wait_until,
)
from tests.faults.private_postgres import PrivatePostgres, Unavailable, create_private_postgres

pytestmark = pytest.mark.faults

pytest.importorskip("psycopg", reason="psycopg is not installed (the server extra)")

#: Writes answered before the restart, and again after the service recovered.
WRITES_EACH_SIDE = 20
#: How long the database stays down at most; long enough for the load to run into it.
OUTAGE_SECONDS = 3.0
#: The service must take writes again this soon after the database is back.
RECOVERY_SECONDS = 10.0


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    try:
        cluster = create_private_postgres()
    except Unavailable as error:
        pytest.skip(f"no private PostgreSQL cluster: {error}")
    try:
        yield cluster
    finally:
        cluster.destroy()


def hold_outage(load: Load) -> None:
    """Keep the database down until the load has run into it (a few errors) or for
    ``OUTAGE_SECONDS``, whichever comes first."""
    errors_before = len(load.ledger.errors)
    deadline = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < deadline and len(load.ledger.errors) < errors_before + 5:
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_postgresql_restart_answers_503_and_recovers(
    postgres: PrivatePostgres, tmp_path: Path, mode: str
) -> None:
    key = admin_key(postgres.url)
    seeds = [random_pdq() for _ in range(5)]
    data_dir = tmp_path / "data"
    with hashwall_serve(postgres.url, data_dir, tmp_path / "serve.log", workers=2) as server:
        bank_id = create_bank(server.url, key, "restart", seeds)
        load = Load(server.url, key, bank_id, seeds)
        load.start(matchers=2, adders=2, withdrawers=1)
        try:
            wait_until(lambda: load.ledger.count("ok") >= WRITES_EACH_SIDE, 30, "writes before")
            postgres.stop(mode)
            hold_outage(load)
            postgres.start()
            with load.client() as client:
                recovery = wait_until(
                    lambda: load.add_one(client).kind == "ok",
                    RECOVERY_SECONDS,
                    "an add succeeds after PostgreSQL is back",
                )
            ok_after = load.ledger.count("ok")
            wait_until(
                lambda: load.ledger.count("ok") >= ok_after + WRITES_EACH_SIDE,
                30,
                "writes after the recovery",
            )
        finally:
            ledger = load.finish()
        problems = final_problems(server, key, bank_id, ledger, drops_allowed=False)
        problems += unexpected_errors(ledger, 503, "PostgreSQL restart")
        context = [summary(ledger), f"recovered in {recovery:.1f} s"]
        assert not problems, "\n".join([*context, *problems[:30], server.log_tail()])
