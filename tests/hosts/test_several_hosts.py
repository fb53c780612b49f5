"""Several ``hashwall serve`` hosts on one PostgreSQL stay one service.

Three instances, each with its own data directory (as on separate machines) and one shared
database: an entry added on one host matches on the others within about a second, a
withdrawal on one stops matching everywhere as fast, each host keeps its own index snapshot,
and every match record's webhook is delivered exactly once although every host runs a
webhook sender. Runs on PostgreSQL only (set ``HASHWALL_TEST_DATABASE_URL``; ``.ci/run``
does): SQLite is one file on one machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.database_support import PG_URL
from tests.server_support import running_server
from tests.service.test_actions import Receiver
from tests.service.test_api_core import PDQ_A

SECRET = "several-hosts-secret-0123456789abcdef"
HOSTS = 3
#: A change reaches the other hosts within their poll period (0.2 s) plus a sync; the
#: assertion allows for a loaded CI machine, the measured time is printed.
CONVERGE_SECONDS = 5.0
MATCHES_PER_HOST = 4

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="several hosts share a PostgreSQL database: set HASHWALL_TEST_DATABASE_URL"
)


@pytest.fixture
def shared_database() -> Iterator[str]:
    from hashwall.store.db import scratch_schema

    with scratch_schema(PG_URL, prefix="hw_hosts") as url:
        yield url


def _prepare(url: str) -> dict[str, str]:
    """Migrate once before the hosts start (a deployment's migrate step), log one change (so
    each host has a position to snapshot at), and make a key per role."""
    from hashwall.service.auth import Role, create_api_key
    from hashwall.store import Bank, Change, ChangeKind, create_database, upgrade

    db = create_database(url)
    try:
        upgrade(db.engine)
        with db.session() as session:
            bank = Bank(name="existing")
            session.add(bank)
            session.flush()
            session.add(Change(kind=ChangeKind.BANK, target_id=bank.id))
        return {role.value: create_api_key(db, SECRET, role, role.value)[1] for role in Role}
    finally:
        db.dispose()


def _environment(url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HASHWALL_DATABASE_URL": url,
        "HASHWALL_DATA_DIR": str(data_dir),
        "HASHWALL_SECRET_KEY": SECRET,
        "HASHWALL_CHANGE_POLL_SECONDS": "0.2",
        "HASHWALL_WEBHOOK_POLL_SECONDS": "0.2",
        "HASHWALL_WEBHOOK_ALLOW_PRIVATE": "true",
    }


def _matched(client: httpx.Client, host: str, key: str) -> bool:
    body = {"queries": [{"signal_type": "pdq", "signal_value": PDQ_A}]}
    response = client.post(f"{host}/v1/match/hashes", json=body, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return bool(response.json()["results"][0]["matched"])


def _seconds_until(condition: Callable[[], bool], limit: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            raise AssertionError(f"not within {limit} s")
        time.sleep(0.02)
    return time.monotonic() - started


def _call(client: httpx.Client, method: str, url: str, key: str, **kwargs: Any) -> Any:
    response = client.request(method, url, headers={"X-API-Key": key}, **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_three_hosts_on_one_postgresql(shared_database: str, tmp_path: Path) -> None:
    keys = _prepare(shared_database)
    receiver = Receiver([])
    with ExitStack() as stack, httpx.Client(timeout=30) as client:
        stack.callback(receiver.close)
        hosts = [
            stack.enter_context(
                running_server(
                    _environment(shared_database, tmp_path / f"host-{n}"), subprocess.DEVNULL
                )
            )
            for n in range(HOSTS)
        ]
        first, *others = hosts
        bank = _call(client, "POST", f"{first}/v1/banks", keys["admin"], json={"name": "shared"})
        _call(
            client,
            "PATCH",
            f"{first}/v1/banks/{bank['id']}",
            keys["admin"],
            json={"action": "webhook"},
        )
        _call(
            client,
            "POST",
            f"{first}/v1/banks/{bank['id']}/webhooks",
            keys["curator"],
            json={"url": receiver.url},
        )
        entry = _call(
            client,
            "POST",
            f"{first}/v1/banks/{bank['id']}/entries",
            keys["curator"],
            json={"hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}]},
        )
        assert _matched(client, first, keys["matcher"])  # at once where it was added
        for host in others:
            took = _seconds_until(lambda h=host: _matched(client, h, keys["matcher"]), 5)
            print(f"addition visible on {host} after {took:.2f} s")
            assert took < CONVERGE_SECONDS

        for host in hosts:  # every host runs a webhook sender: each record is sent once
            for _ in range(MATCHES_PER_HOST):
                assert _matched(client, host, keys["matcher"])
        expected = HOSTS * (MATCHES_PER_HOST + 1) - 1  # the convergence polls matched once
        _seconds_until(lambda: len(receiver.calls) >= expected, 30)
        time.sleep(1.0)  # a duplicate would arrive within the senders' poll period
        record_ids = [_record_id(body) for _headers, body in receiver.calls]
        assert len(record_ids) == len(set(record_ids)), "a match record was delivered twice"
        assert len(record_ids) >= expected

        _call(client, "POST", f"{others[-1]}/v1/entries/{entry['id']}/withdraw", keys["curator"])
        assert not _matched(client, others[-1], keys["matcher"])  # at once where withdrawn
        for host in hosts[:-1]:
            took = _seconds_until(lambda h=host: not _matched(client, h, keys["matcher"]), 5)
            print(f"withdrawal visible on {host} after {took:.2f} s")
            assert took < CONVERGE_SECONDS
    for n in range(HOSTS):  # each host wrote its own start-up snapshot into its own folder
        assert list((tmp_path / f"host-{n}" / "index-snapshots").glob("*.hwsnap"))


def _record_id(body: bytes) -> int:
    return int(json.loads(body)["match_record_id"])
