"""Where the server may send outbound calls: no private, loopback or link-local addresses.

A curator who can register a webhook URL could otherwise make the server POST to its own
internal network (cloud metadata at 169.254.169.254, an admin port on localhost, a database
on 10.0.0.0/8): server-side request forgery. In production the URL's host must resolve only
to public addresses, checked when the webhook is created **and again before every delivery**
(DNS can change in between). IPv6 forms that lead back into IPv4 are refused too (NAT64,
6to4, Teredo, and IPv4-compatible or -mapped addresses of a non-public IPv4 address), since
Python's ``is_global`` calls them public. The same check guards every outbound call: bank
webhooks, takedown and escalation calls, and exchange fetches. Development mode allows
private addresses, so a receiver on the same laptop works; ``HASHWALL_WEBHOOK_ALLOW_PRIVATE``
overrides either default. ``hashwall scan`` applies the same rules to the URLs it fetches
(``--allow-private`` overrides), and vets every redirect hop it follows.

The call then connects to the very addresses that were checked (:func:`pinned_handlers`),
not to whatever a second DNS lookup a moment later returns: otherwise a DNS server that
answers with a public address for the check and ``127.0.0.1`` for the connection (DNS
rebinding) would still steer the call inside. TLS still verifies the certificate against the
URL's host name, and redirects are never followed. Residual risk, stated plainly: when an
HTTP(S) proxy is configured for the URL's scheme the proxy connects, so it resolves the name
itself and must enforce its own egress rules.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _addresses(host: str, port: int) -> list[IpAddress]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    found = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        found.append(address)
    return found


#: IPv6 ranges that translate to or tunnel into IPv4 (or are deprecated), refused whatever
#: they embed. Python's ``is_global`` calls most of them public, yet a packet sent there can
#: end up at an address inside: ``64:ff9b::a9fe:a9fe`` is 169.254.169.254 through a NAT64
#: gateway, ``2002:7f00:1::1`` is 127.0.0.1 through a 6to4 relay.
TRANSITION_NETWORKS: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(network), name)
    for network, name in (
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("2002::/16", "6to4"),
        ("2001::/32", "Teredo"),
        ("fec0::/10", "deprecated site-local"),
    )
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped (``::ffff:a.b.c.d``) or IPv4-compatible
    (``::a.b.c.d``, deprecated) IPv6 address; ``None`` for any other form."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # ``::`` and ``::1`` are themselves
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def non_public_reason(address: IpAddress) -> str | None:
    """Why the server must not connect to ``address`` (a few words), or ``None``."""
    if isinstance(address, ipaddress.IPv6Address):
        for network, name in TRANSITION_NETWORKS:
            if address in network:
                return f"{name} address {address} (in {network})"
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = non_public_reason(inner)
            return None if reason is None else f"{address} embeds {reason}"
    if not address.is_global or address.is_multicast:
        return f"non-public address {address}"
    return None


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast or reserved,
    and no IPv6 transition form (NAT64, 6to4, Teredo, IPv4-compatible or -mapped) of one."""
    return non_public_reason(address) is None


@dataclass(frozen=True)
class Verdict:
    """Whether the server may call a URL: ``refused`` says why not; otherwise ``addresses``
    are the checked addresses to connect to (empty: no check made, connect as usual)."""

    refused: str | None
    addresses: tuple[IpAddress, ...] = ()


def vet(url: str, *, allow_private: bool) -> Verdict:
    """Resolve and check the URL's host once (see the module docstring)."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return Verdict("the URL has no host")
    if allow_private:
        return Verdict(None)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = _addresses(host, port)
    except (OSError, UnicodeError):
        return Verdict(f"the host {host!r} does not resolve")
    blocked = [reason for reason in map(non_public_reason, addresses) if reason is not None]
    if blocked:
        return Verdict(
            f"the host {host!r} resolves to a non-public address ({blocked[0]}); the server "
            "only calls public addresses (set HASHWALL_WEBHOOK_ALLOW_PRIVATE=true to allow)"
        )
    if not addresses:
        return Verdict(f"the host {host!r} does not resolve")
    return Verdict(None, tuple(dict.fromkeys(addresses)))


def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the server must not call ``url`` (a sentence), or None when it may."""
    return vet(url, allow_private=allow_private).refused


def is_proxied(url: str) -> bool:
    """Whether urllib would send this URL through a proxy from the environment."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    return bool(proxies.get(parts.scheme)) and not urllib.request.proxy_bypass(parts.hostname or "")


def pinned_handlers(addresses: Sequence[IpAddress]) -> list[urllib.request.BaseHandler]:
    """urllib handlers whose connections go to ``addresses`` (tried in order) instead of a
    fresh lookup of the URL's host; the host name still goes into the Host header, the TLS
    server name and the certificate check."""
    http_class = _pinned(http.client.HTTPConnection, addresses)
    https_class = _pinned(http.client.HTTPSConnection, addresses)

    class PinnedHttp(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(http_class, req)

    class PinnedHttps(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(https_class, req, context=self._context)  # type: ignore[attr-defined]

    return [PinnedHttp(), PinnedHttps()]


def _pinned(base: type[http.client.HTTPConnection], addresses: Sequence[IpAddress]) -> Any:
    """``base`` with its socket opened to the checked addresses (http.client opens it
    through ``_create_connection`` with the URL's own host and port)."""

    def connect(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        error: OSError = OSError(f"no address to connect to for {address[0]!r}")
        for pinned in addresses:
            try:
                return socket.create_connection((str(pinned), address[1]), timeout, source_address)
            except OSError as failed:
                error = failed
        raise error

    class Pinned(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect

    return Pinned
