"""URL lists against a local server on 127.0.0.1: robots.txt, rate limits, timeouts,
redirects into private addresses, dead URLs; the user agent says who is asking."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hashwall.net import egress
from hashwall.scan import fetch as fetch_module
from hashwall.scan.fetch import FetchConfig
from tests.scan.conftest import Pictures
from tests.scan.support import edited, labels, scan

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


class Site:
    """What the server serves and what it saw (path, time, user agent)."""

    def __init__(self, pictures: Pictures) -> None:
        self.pages: dict[str, tuple[int, bytes, dict[str, str]]] = {
            "/robots.txt": (200, ROBOTS, {}),
            "/known.jpg": (200, pictures.known, {}),
            "/copy.jpg": (200, edited(pictures.other_known), {}),
            "/holiday.jpg": (200, pictures.unrelated, {}),
            "/private/known.jpg": (200, pictures.known, {}),
            "/page.html": (200, b"<html>hello</html>", {"Content-Type": "text/html"}),
            "/big.html": (200, b"<html>" + b"x" * 400_000, {"Content-Type": "text/html"}),
            "/hop.jpg": (302, b"", {"Location": "/known.jpg"}),
            "/loop.jpg": (302, b"", {"Location": "/loop.jpg"}),
        }
        self.requests: list[tuple[str, float, str]] = []
        self.lock = threading.Lock()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with site.lock:
                site.requests.append(
                    (self.path, time.monotonic(), self.headers.get("User-Agent", ""))
                )
            if self.path == "/slow.jpg":
                time.sleep(3.0)
            status, body, headers = site.pages.get(self.path, (404, b"missing", {}))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if self.path != "/big.html":  # that one streams until the connection closes
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def served(pictures: Pictures) -> Iterator[tuple[Site, str]]:
    site = Site(pictures)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def url_list(tmp_path: Path, base: str, paths: list[str]) -> Path:
    listing = tmp_path / "urls.txt"
    listing.write_text("# reported\n" + "\n".join(base + p for p in paths) + "\n")
    return listing


def test_url_list_findings_and_named_skips(
    tmp_path: Path, pictures: Pictures, served: tuple[Site, str]
) -> None:
    site, base = served
    paths = ["/known.jpg", "/copy.jpg", "/holiday.jpg", "/private/known.jpg", "/page.html"]
    paths += ["/gone.jpg", "/slow.jpg", "/hop.jpg", "/loop.jpg", "/big.html"]
    config = FetchConfig(allow_private=True, interval=0.0, per_host=4, timeout=1.0)
    findings, summary = scan(
        pictures.bank,
        url_lists=(url_list(tmp_path, base, paths),),
        fetch=config,
        max_bytes=200_000,  # /big.html is over it, but is dropped as non-media first
    )
    assert labels(findings) == sorted(
        [
            (base + "/known.jpg", "known-1"),
            (base + "/copy.jpg", "known-2"),
            (base + "/hop.jpg", "known-1"),
        ]
    )
    hop = next(f for f in findings if f["source"]["url"] == base + "/hop.jpg")  # type: ignore[index]
    assert hop["source"]["final_url"] == base + "/known.jpg"  # type: ignore[index]
    assert dict(summary.skips) == {
        "robots_disallowed": 1,
        "non_media": 2,
        "dead_url": 1,
        "timeout": 1,
        "too_many_redirects": 1,
    }
    assert summary.media_hashed == 4
    seen = [path for path, _, _ in site.requests]
    assert "/private/known.jpg" not in seen  # robots.txt obeyed: never even asked
    assert seen.count("/robots.txt") == 1
    assert all(agent.startswith("hashwall-scan/") for _, _, agent in site.requests)


def test_rate_limit_per_host_is_held(
    tmp_path: Path, pictures: Pictures, served: tuple[Site, str]
) -> None:
    site, base = served
    paths = ["/known.jpg", "/copy.jpg", "/holiday.jpg", "/page.html"]
    config = FetchConfig(allow_private=True, interval=0.3, per_host=2, threads=4)
    scan(pictures.bank, url_lists=(url_list(tmp_path, base, paths),), fetch=config)
    starts = sorted(at for _, at, _ in site.requests)
    assert len(starts) == 5  # robots.txt and four pictures
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Starts are spaced 0.3 s apart by the client; the server sees them with some jitter, so
    # the whole span is checked tightly and single gaps loosely (a burst would show ~0).
    assert starts[-1] - starts[0] >= 4 * 0.3 - 0.05, gaps
    assert min(gaps) >= 0.15, gaps


def test_private_addresses_are_refused_unless_allowed(
    tmp_path: Path, pictures: Pictures, served: tuple[Site, str]
) -> None:
    site, base = served
    findings, summary = scan(pictures.bank, url_lists=(url_list(tmp_path, base, ["/known.jpg"]),))
    assert findings == []
    assert dict(summary.skips) == {"private_address": 1}
    assert site.requests == []


def test_a_redirect_into_a_private_address_is_refused(
    tmp_path: Path,
    pictures: Pictures,
    served: tuple[Site, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The test server stands in for a public host (127.0.0.1 passes); its redirect to
    ``localhost`` must then be vetted like any URL and refused."""
    site, base = served
    port = base.rsplit(":", 1)[1]
    site.pages["/bounce.jpg"] = (302, b"", {"Location": f"http://localhost:{port}/known.jpg"})
    real_vet = egress.vet

    def vet(url: str, *, allow_private: bool) -> egress.Verdict:
        if url.startswith(base):
            return egress.Verdict(None)
        return real_vet(url, allow_private=allow_private)

    monkeypatch.setattr(fetch_module.egress, "vet", vet)
    findings, summary = scan(
        pictures.bank,
        url_lists=(url_list(tmp_path, base, ["/bounce.jpg"]),),
        fetch=FetchConfig(interval=0.0),
    )
    assert findings == []
    assert dict(summary.skips) == {"private_address": 1}
    assert [path for path, _, _ in site.requests] == ["/robots.txt", "/bounce.jpg"]


def test_a_dead_host_is_counted(tmp_path: Path, pictures: Pictures) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    listing = url_list(tmp_path, f"http://127.0.0.1:{port}", ["/a.jpg", "/b.jpg"])
    listing.write_text(listing.read_text() + "ftp://example.org/c.jpg\n")
    _, summary = scan(
        pictures.bank, url_lists=(listing,), fetch=FetchConfig(allow_private=True, interval=0.0)
    )
    assert dict(summary.skips) == {"dead_url": 2, "bad_url": 1}
