"""IPv6 transition addresses that lead back into IPv4 are not public (issue 14, item 4).

Why: Python's ``is_global`` calls ``64:ff9b::a9fe:a9fe`` (NAT64 of 169.254.169.254),
``2002:7f00:1::1`` (6to4 of 127.0.0.1) and ``::7f00:1`` (IPv4-compatible 127.0.0.1) public, and
production accepted webhooks to them (201). Every outbound call shares the check: bank
webhooks, takedown and escalation calls, exchange fetches."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashwall.net import egress
from hashwall.service.errors import ApiError
from hashwall.service.exchange.feed import check_egress
from hashwall.service.settings import Settings
from hashwall.service.takedown import delivery
from tests.service.conftest import Api

ATTACKS = [
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the cloud metadata address
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/",  # local-use NAT64
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[2001:0:7f00:1::1]/",  # Teredo
    "http://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
    "http://[::a9fe:a9fe]/",  # IPv4-compatible 169.254.169.254
    "http://[::ffff:7f00:1]/",  # IPv4-mapped 127.0.0.1
    "http://[fec0::1]/",  # deprecated site-local
]
ipv4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))


def v6(value: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(value)


@pytest.mark.parametrize("url", ATTACKS)
def test_transition_addresses_are_refused(url: str) -> None:
    reason = egress.refusal(url, allow_private=False)
    assert reason is not None and "non-public" in reason, reason


def test_public_addresses_still_pass() -> None:
    for address in ("93.184.215.14", "2606:4700::1111", "::ffff:93.184.215.14"):
        assert egress.is_public(ipaddress.ip_address(address)), address


@given(ipv4)
def test_mapped_and_compatible_forms_follow_their_ipv4_address(
    address: ipaddress.IPv4Address,
) -> None:
    mapped = v6((0xFFFF << 32) | int(address))
    compatible = v6(int(address))
    assert egress.is_public(mapped) == egress.is_public(address)
    if int(address) > 1:
        assert egress.is_public(compatible) == egress.is_public(address)
    else:
        assert not egress.is_public(compatible)  # :: and ::1


@given(ipv4)
def test_nat64_and_6to4_are_refused_whatever_they_embed(address: ipaddress.IPv4Address) -> None:
    nat64 = v6((0x0064FF9B << 96) | int(address))
    six_to_four = v6((0x2002 << 112) | (int(address) << 80) | 1)
    assert not egress.is_public(nat64)
    assert not egress.is_public(six_to_four)


@given(st.integers(0, 2**96 - 1), st.integers(0, 2**80 - 1))
def test_whole_transition_networks_are_refused(low96: int, low80: int) -> None:
    assert not egress.is_public(v6((0x2001 << 112) | low96))  # Teredo 2001::/32
    assert not egress.is_public(v6((0x0064FF9B0001 << 80) | low80))  # 64:ff9b:1::/48


@given(st.integers(0, 2**128 - 1))
def test_never_more_permissive_than_is_global(value: int) -> None:
    address = v6(value)
    if egress.is_public(address):
        assert address.is_global and not address.is_multicast


def test_production_refuses_transition_webhook_urls(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(settings.model_copy(update={"env": "production"}))
    bank = api.create_bank()
    for url in ATTACKS[:6]:
        response = api.call("POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"]["field"] == "url"


def test_takedown_calls_pass_the_same_check(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})
    state = SimpleNamespace(settings=production)
    attempt = delivery._post_checked(state, "http://[64:ff9b::7f00:1]:9/t", b"{}", "task", 1)  # type: ignore[arg-type]
    assert not attempt.ok and attempt.error.startswith("refused:"), attempt.error


def test_exchange_fetches_pass_the_same_check(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})
    with pytest.raises(ApiError) as refused:
        check_egress(production, "https://[2002:a9fe:a9fe::1]/v1", "StopNCII")
    assert refused.value.status == 409 and "6to4" in refused.value.message
    check_egress(settings, "http://127.0.0.1:9/", "NCMEC")  # development: a local fake is fine


def test_the_exchange_cli_passes_the_same_check(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hashwall.cli.app import app as cli_app

    result = CliRunner().invoke(
        cli_app,
        ["exchange", "stopncii", "--bank", "s", "--data-dir", str(tmp_path)],
        env={
            "HASHWALL_ENV": "production",
            "HASHWALL_SECRET_KEY": secrets.token_hex(32),
            "HASHWALL_STOPNCII_KEYS": "fetch-key,subscription-key,http://[64:ff9b::a9fe:a9fe]/v1",
        },
    )
    assert result.exit_code == 2, result.output
    assert "NAT64" in result.stderr and "not reachable" in result.stderr
