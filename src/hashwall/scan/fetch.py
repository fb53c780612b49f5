"""Fetch reported URLs politely and safely, turning each into one item or one named skip.

Polite: a user agent that says who we are, robots.txt obeyed, per-host concurrency and rate
limits (:mod:`~hashwall.scan.hosts`). Safe: the webhook egress rules
(:mod:`hashwall.net.egress`) apply to every URL and every redirect hop, and connections go to
the addresses that were checked (no DNS rebinding); timeouts and a byte cap bound every
response; redirects are followed by hand, a few at most.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from hashwall import __version__
from hashwall.media.sniff import HEADER_BYTES, kind_from_header
from hashwall.net import egress
from hashwall.scan.hosts import HostGate
from hashwall.scan.items import ScanItem, Skipped
from hashwall.scan.robots import ROBOTS_MAX_BYTES, Robots, RobotsAnswer
from hashwall.scan.skips import Skip
from hashwall.scan.sources import Event, SourceError, Unit

USER_AGENT = (
    f"hashwall-scan/{__version__} (finds known non-consensual intimate images for removal; "
    "+https://github.com/hashwall/hashwall)"
)
ROBOTS_AGENT = "hashwall-scan"
_CHUNK = 1 << 16
_GONE = (404, 410)


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = USER_AGENT
    timeout: float = 20.0
    max_redirects: int = 5
    allow_private: bool = False
    per_host: int = 2
    interval: float = 1.0
    threads: int = 8


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand 3xx answers back instead of following them (each hop is vetted first)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class _Answer:
    status: int
    url: str
    content_type: str | None
    body: bytes
    location: str | None = None


class Fetcher:
    def __init__(self, config: FetchConfig, max_bytes: int) -> None:
        self.config = config
        self.max_bytes = max_bytes
        self.gate = HostGate(config.per_host, config.interval)
        self.robots = Robots(ROBOTS_AGENT, self._robots_txt)

    def fetch(self, url: str) -> Event:
        """One item (a payload that starts like a photo or video) or one named skip."""
        unit = f"url:{url}"
        source: dict[str, Any] = {"url": url}
        current = url
        for _hop in range(self.config.max_redirects + 1):
            outcome = self._one_hop(unit, source, current)
            if not isinstance(outcome, _Answer):
                return outcome
            if outcome.location is None:
                return self._item(unit, source, outcome)
            current = urljoin(current, outcome.location)
            source = {**source, "final_url": current}
        return Skipped(
            unit, Skip.TOO_MANY_REDIRECTS, source, f"more than {self.config.max_redirects}"
        )

    def _one_hop(self, unit: str, source: dict[str, Any], url: str) -> _Answer | Skipped:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            return Skipped(unit, Skip.BAD_URL, source, url)
        verdict = egress.vet(url, allow_private=self.config.allow_private)
        if verdict.refused:
            return Skipped(unit, Skip.PRIVATE_ADDRESS, source, verdict.refused)
        allowed, delay, failure = self.robots.check(url)
        if isinstance(failure, Skipped):
            return Skipped(unit, failure.reason, source, failure.detail)
        if not allowed:
            return Skipped(unit, Skip.ROBOTS_DISALLOWED, source, url)
        host = urlsplit(url).netloc
        if delay:
            self.gate.slow_down(host, delay)
        with self.gate.turn(host):
            answer = self._get(url, verdict.addresses, self.max_bytes, media_only=True)
        if isinstance(answer, _Answer):
            return answer
        return Skipped(unit, answer[0], source, answer[1])

    def _item(self, unit: str, source: dict[str, Any], answer: _Answer) -> Event:
        if answer.status in _GONE:
            return Skipped(unit, Skip.DEAD_URL, source, f"HTTP {answer.status}")
        if answer.status != 200:
            return Skipped(unit, Skip.HTTP_ERROR, source, f"HTTP {answer.status}")
        if kind_from_header(answer.body[:HEADER_BYTES]) is None:
            return Skipped(unit, Skip.NON_MEDIA, source, answer.content_type or "")
        when = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return ScanItem(unit, source, when, answer.content_type, payload=answer.body)

    def _robots_txt(self, url: str) -> RobotsAnswer:
        """robots.txt, its redirects vetted hop by hop like any URL's."""
        for _hop in range(self.config.max_redirects + 1):
            verdict = egress.vet(url, allow_private=self.config.allow_private)
            if verdict.refused:
                return _robots_failure(Skip.PRIVATE_ADDRESS, verdict.refused)
            with self.gate.turn(urlsplit(url).netloc):
                answer = self._get(url, verdict.addresses, ROBOTS_MAX_BYTES)
            if not isinstance(answer, _Answer):
                return _robots_failure(*answer)
            if answer.location is None:
                return RobotsAnswer(answer.status, answer.body)
            url = urljoin(url, answer.location)
        return RobotsAnswer(404)  # RFC 9309: past five redirects, robots.txt is unavailable

    def _get(
        self,
        url: str,
        addresses: tuple[egress.IpAddress, ...],
        cap: int,
        *,
        media_only: bool = False,
    ) -> _Answer | tuple[Skip, str]:
        """One GET, bounded in time and size; never raises for network trouble. With
        ``media_only``, a body that does not start like media is dropped after its first
        bytes (a reported page's HTML is not downloaded to the cap)."""
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if addresses:
            handlers += egress.pinned_handlers(addresses)
        handlers.append(_NoRedirect())
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(url, headers={"User-Agent": self.config.user_agent})
        deadline = time.monotonic() + self.config.timeout
        try:
            with opener.open(request, timeout=self.config.timeout) as response:
                return self._read(url, response, cap, deadline, media_only)
        except urllib.error.HTTPError as error:
            location = error.headers.get("Location") if 300 <= error.code < 400 else None
            if location is not None:
                return _Answer(error.code, url, None, b"", location)
            return _Answer(error.code, url, None, b"")
        except TimeoutError:
            return Skip.TIMEOUT, f"no answer within {self.config.timeout:g} s"
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError | socket.timeout):
                return Skip.TIMEOUT, f"no answer within {self.config.timeout:g} s"
            return Skip.DEAD_URL, str(error.reason)
        except (OSError, http.client.HTTPException, ValueError) as error:
            return Skip.DEAD_URL, f"{type(error).__name__}: {error}"

    def _read(
        self, url: str, response: Any, cap: int, deadline: float, media_only: bool
    ) -> _Answer | tuple[Skip, str]:
        content_type = response.headers.get("Content-Type")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            return Skip.TOO_LARGE, f"Content-Length {declared} is over {cap} bytes"
        parts: list[bytes] = []
        size = 0
        sniffed = not media_only
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            parts.append(chunk)
            if not sniffed and size >= HEADER_BYTES:
                if kind_from_header(b"".join(parts)[:HEADER_BYTES]) is None:
                    return Skip.NON_MEDIA, content_type or ""
                sniffed = True
            if size > cap:
                return Skip.TOO_LARGE, f"over {cap} bytes"
            if time.monotonic() > deadline:
                return Skip.TIMEOUT, f"the body took longer than {self.config.timeout:g} s"
        return _Answer(response.status, url, content_type, b"".join(parts))


def read_url_list(path: Path) -> list[str]:
    """One URL a line; blank lines and ``#`` comments ignored; duplicates fetched once."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"{path}: cannot read the URL list ({error})") from None
    lines = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


def url_units(
    lists: Iterable[Path], config: FetchConfig, max_bytes: int, done: Callable[[str], bool]
) -> Iterator[Unit]:
    """Units in the order fetches finish; at most ``4 x threads`` fetches queued at once."""
    fetcher = Fetcher(config, max_bytes)
    urls = (url for path in lists for url in read_url_list(path) if not done(f"url:{url}"))
    with ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="fetch") as pool:
        queued: set[Future[Event]] = set()
        for url in urls:
            queued.add(pool.submit(fetcher.fetch, url))
            if len(queued) >= 4 * config.threads:
                finished, queued = wait(queued, return_when=FIRST_COMPLETED)
                yield from (_unit(future.result()) for future in finished)
        for future in queued:
            yield _unit(future.result())


def _robots_failure(reason: Skip, detail: str) -> RobotsAnswer:
    return RobotsAnswer(None, failure=Skipped("", reason, {}, detail))


def _unit(event: Event) -> Unit:
    return Unit(event.unit, lambda: iter([event]))
