"""Per-address limits count an IPv6 client by its /64, and their rows are pruned (issue 14,
item 13).

Why: one subscriber routinely holds a whole IPv6 /64, so counting each address separately
gave anyone 2^64 fresh identities against the portal's limits; and ``portal_throttles`` kept a
row per address ever seen, growing without bound."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from starlette.types import ASGIApp, Receive, Scope, Send

from hashwall.service import portal
from hashwall.service.app import create_app
from hashwall.service.client_address import throttle_key
from hashwall.service.portal import Rule, Throttles, prune_expired
from hashwall.store import create_database
from hashwall.store.portal_models import PortalThrottle
from tests.portal.conftest import portal_settings
from tests.portal.test_portal_api import ELIGIBLE


class FromAddress:
    """Every request comes from ``self.host`` (TestClient's own peer is ``testclient``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.host = "127.0.0.1"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": (self.host, 40000)}
        await self.app(scope, receive, send)


@pytest.fixture
def from_address(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, FromAddress]]:
    wrapper = FromAddress(
        create_app(portal_settings(database_url, tmp_path, portal_cases_per_ip_hour=2))
    )
    with TestClient(wrapper) as client:
        yield client, wrapper


def new_case(client: TestClient, records: list[dict[str, Any]]) -> int:
    body = {"records": records[:1], **ELIGIBLE}
    return client.post("/v1/portal/cases", json=body).status_code


def test_one_ipv6_64_is_one_client(
    from_address: tuple[TestClient, FromAddress], records: list[dict[str, Any]]
) -> None:
    client, wrapper = from_address
    for host in ("2001:db8:1:2::a", "2001:db8:1:2:ffff:ffff:ffff:fffe"):
        wrapper.host = host
        assert new_case(client, records) == 201
    wrapper.host = "2001:db8:1:2:1234::99"  # a third address of the same /64: over the limit
    assert new_case(client, records) == 429
    wrapper.host = "2001:db8:1:3::1"  # the neighbouring /64 is another subscriber
    assert new_case(client, records) == 201


def test_ipv4_clients_still_count_per_address(
    from_address: tuple[TestClient, FromAddress], records: list[dict[str, Any]]
) -> None:
    client, wrapper = from_address
    wrapper.host = "192.0.2.1"
    assert [new_case(client, records) for _ in range(3)] == [201, 201, 429]
    wrapper.host = "192.0.2.2"
    assert new_case(client, records) == 201
    wrapper.host = "::ffff:192.0.2.1"  # the same IPv4 client, written as IPv6
    assert new_case(client, records) == 429


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_throttle_key_is_the_64(high: int, low: int) -> None:
    import ipaddress

    address = ipaddress.IPv6Address((high << 64) | low)
    if address.ipv4_mapped is not None:
        return
    assert throttle_key(str(address)) == throttle_key(str(ipaddress.IPv6Address(high << 64)))
    assert throttle_key(str(address)).endswith("/64")


def rows(database_url: str) -> int:
    db = create_database(database_url)
    try:
        with db.session() as session:
            return int(session.scalar(select(func.count()).select_from(PortalThrottle)) or 0)
    finally:
        db.dispose()


def test_expired_throttle_rows_are_pruned(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashwall.store import upgrade

    db = create_database(database_url)
    try:
        upgrade(db.engine)
        throttles = Throttles(db, "secret")
        rule = Rule("create-ip", 10, 3600, 3600)
        locked = Rule("pin-case", 1, 60, 3600)
        for n in range(50):
            throttles.reserve(rule, f"198.51.100.{n}")
        throttles.reserve(locked, "HW-2222-2222")
        throttles.reserve(locked, "HW-2222-2222")  # now locked for an hour
        assert rows(database_url) == 51
        long_ago = datetime.now(UTC) - timedelta(hours=2)
        with db.session() as session:
            session.execute(update(PortalThrottle).values(window_start=long_ago))
        now = datetime.now(UTC)
        assert prune_expired(db, rule, now) == 50
        assert prune_expired(db, locked, now) == 0  # its lock still holds
        assert throttles.reserve(locked, "HW-2222-2222") is not None
        assert prune_expired(db, locked, now + timedelta(hours=2)) == 1
        # reserve() prunes by itself, at most once a minute per scope and worker
        for n in range(5):
            throttles.reserve(rule, f"203.0.113.{n}")
        with db.session() as session:
            session.execute(update(PortalThrottle).values(window_start=long_ago))
        monkeypatch.setattr(portal, "_last_pruned", {})
        throttles.reserve(rule, "203.0.113.200")
        assert rows(database_url) == 1
    finally:
        db.dispose()
