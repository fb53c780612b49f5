"""PIN throttling that a stranger cannot turn against the owner (issue 14, item 6).

The attack: someone who knows a case number types wrong PINs from several addresses; the
case used to lock for an hour, refusing even the owner's right PIN. Now wrong PINs only
lock out the addresses that typed them, and a per-case budget slows guessing down without
ever refusing an address that has not failed yet. Brute force stays impractical: the last
test works the numbers out from the default settings.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from hashwall.service.client_address import throttle_key as client_key
from hashwall.service.portal import ALPHABET
from hashwall.service.settings import Settings
from tests.portal.test_portal_api import PortalApi, create_case, match, wrong
from tests.service.conftest import Api


def _from(api: Api, address: str) -> TestClient:
    """A client of the same running app that connects from ``address``."""
    return TestClient(api.client.app, client=(address, 50000))


def _try(client: TestClient, number: str, pin: str, what: str = "status") -> int:
    body = {"case_number": number, "pin": pin}
    return client.post(f"/v1/portal/cases/{what}", json=body).status_code


def test_strangers_wrong_pins_do_not_lock_the_owner_out(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api(portal_max_failed_pins=5, portal_case_max_failed_pins=10)
    created = create_case(api, records[:1])
    number, pin = created["case_number"], created["pin"]
    # Five wrong PINs from each of six addresses: the old code locked the case after five.
    codes = []
    for n in range(6):
        stranger = _from(api, f"203.0.113.{n + 1}")
        codes.append([_try(stranger, number, wrong(pin)) for _ in range(5)])
        assert _try(stranger, number, wrong(pin)) == 429  # this address is locked out
    assert codes[0] == codes[1] == [403] * 5  # within the case's budget (10)
    assert all(c == [403, 403, 429, 429, 429] for c in codes[2:]), codes  # slowed: 2 each
    # The owner, from their own address, gets in, can check and withdraw at once.
    owner = _from(api, "198.51.100.20")
    assert _try(owner, number, pin) == 200
    assert _try(owner, number, pin, "withdraw") == 200
    assert not match(api, records[0])["matched"]


def test_one_address_cannot_keep_guessing(
    portal_api: PortalApi, records: list[dict[str, Any]]
) -> None:
    api = portal_api(portal_max_failed_pins=5)
    created = create_case(api, records[:1])
    number, pin = created["case_number"], created["pin"]
    guesser = _from(api, "203.0.113.9")
    assert [_try(guesser, number, wrong(pin)) for _ in range(5)] == [403] * 5
    # Locked for this case: even a right guess is not even checked from this address.
    refused = guesser.post("/v1/portal/cases/status", json={"case_number": number, "pin": pin})
    assert refused.status_code == 429 and 3500 <= int(refused.headers["retry-after"]) <= 3600
    assert "locked for you" in refused.json()["error"]["message"]
    # Other addresses in the same IPv6 /64 are the same guesser.
    v6 = _from(api, "2001:db8:1:2::a")
    assert [_try(v6, number, wrong(pin)) for _ in range(5)] == [403] * 5
    assert _try(_from(api, "2001:db8:1:2:ffff::b"), number, pin) == 429
    assert _try(_from(api, "2001:db8:1:3::a"), number, pin) == 200  # another network


def test_ipv6_clients_are_counted_per_64() -> None:
    assert client_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("testclient") == "testclient"


def test_brute_force_takes_centuries_with_the_default_settings() -> None:
    """The arithmetic of docs/security.md: with A addresses (IPv6: /64 networks), at most
    ``min(5 A, case budget + 2 A)`` guesses per lock-out period reach one case."""
    s = Settings()
    pins = len(ALPHABET) ** 8  # 31^8 = 852,891,037,441 (about 40 bits)
    expected_guesses = (pins + 1) / 2
    hour = 3600
    assert s.portal_lockout_seconds == s.portal_case_window_seconds == hour
    year = 365.25 * 24 * hour
    for addresses, at_least_years in ((1, 10**6), (10_000, 2_000), (1_000_000, 20)):
        slowed = s.portal_case_max_failed_pins + addresses * s.portal_slowed_pins_per_address
        # ...and never more than each address's own limit on the case.
        per_period = min(slowed, addresses * s.portal_max_failed_pins)
        years = expected_guesses / per_period * s.portal_lockout_seconds / year
        assert years > at_least_years, (addresses, years)
