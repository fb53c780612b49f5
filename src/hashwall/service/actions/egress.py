"""Where the server may send webhook calls: no private, loopback or link-local addresses.

A curator who can register a webhook URL could otherwise make the server POST to its own
internal network (cloud metadata at 169.254.169.254, an admin port on localhost, a database
on 10.0.0.0/8): server-side request forgery. In production the URL's host must resolve only
to public addresses, checked when the webhook is created **and again before every delivery**
(DNS can change in between). Development mode allows private addresses, so a receiver on
the same laptop works; ``HASHWALL_WEBHOOK_ALLOW_PRIVATE`` overrides either default.

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


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast or reserved."""
    return address.is_global and not address.is_multicast


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
    blocked = [str(a) for a in addresses if not is_public(a)]
    if blocked:
        return Verdict(
            f"the host {host!r} resolves to a non-public address ({blocked[0]}); webhooks may "
            "only call public addresses (set HASHWALL_WEBHOOK_ALLOW_PRIVATE=true to allow)"
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
