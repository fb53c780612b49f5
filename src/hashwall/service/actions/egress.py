"""Where the server may send webhook calls: no private, loopback or link-local addresses.

A curator who can register a webhook URL could otherwise make the server POST to its own
internal network (cloud metadata at 169.254.169.254, an admin port on localhost, a database
on 10.0.0.0/8): server-side request forgery. In production the URL's host must resolve only
to public addresses, checked when the webhook is created **and again before every delivery**
(DNS can change in between). Development mode allows private addresses, so a receiver on
the same laptop works; ``HASHWALL_WEBHOOK_ALLOW_PRIVATE`` overrides either default.

Residual risk, stated plainly: the address is resolved here and again by the HTTP client a
moment later, so a DNS server that answers differently within that window could still
redirect one call; redirects themselves are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    found = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        found.append(address)
    return found


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast or reserved."""
    return address.is_global and not address.is_multicast


def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the server must not call ``url`` (a sentence), or None when it may."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if allow_private:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = _addresses(host, port)
    except (OSError, UnicodeError):
        return f"the host {host!r} does not resolve"
    blocked = [str(a) for a in addresses if not is_public(a)]
    if blocked:
        return (
            f"the host {host!r} resolves to a non-public address ({blocked[0]}); webhooks may "
            "only call public addresses (set HASHWALL_WEBHOOK_ALLOW_PRIVATE=true to allow)"
        )
    return None
