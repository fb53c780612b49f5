"""The client address that per-address limits count: IPv6 clients by their /64.

Why: one IPv6 subscriber (a home line, a cloud VM) is routinely given a whole /64, 2^64
addresses, so counting each IPv6 address separately gave anyone unlimited fresh identities
against the portal's PIN and case limits and the public forms' hourly budgets. A /64 is the
smallest block that still separates subscribers. IPv4 (and IPv4-mapped IPv6) stays per address.

The address is uvicorn's view of the peer: the connection's own address, or the
``X-Forwarded-For`` address only when the connection comes from a proxy trusted with
``hashwall serve --forwarded-allow-ips``.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

#: Prefix length IPv6 clients are grouped by.
IPV6_PREFIX = 64


def throttle_key(host: str) -> str:
    """The key one client's requests are counted under (never logged, only HMAC'd)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # "unknown", or a test client's name
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def client_key(request: Request) -> str:
    """:func:`throttle_key` of the request's client address."""
    return throttle_key(request.client.host if request.client else "unknown")
