"""robots.txt, fetched once per site and obeyed for our user agent (RFC 9309).

A missing robots.txt (4xx) allows everything; a server error (5xx) means "disallow
everything" for now, as RFC 9309 section 2.3.1.4 asks; a network failure is that URL's own
failure (a dead host, a timeout) and is reported as such.
"""

from __future__ import annotations

import threading
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

#: robots.txt files larger than this are cut (Google reads 500 KiB).
ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class RobotsAnswer:
    status: int | None  # None: the request itself failed
    body: bytes = b""
    failure: object = None  # the fetcher's failure (a Skipped) when status is None


class Robots:
    def __init__(self, agent: str, get: Callable[[str], RobotsAnswer]) -> None:
        self.agent = agent
        self._get = get
        self._lock = threading.Lock()
        self._sites: dict[str, urllib.robotparser.RobotFileParser | RobotsAnswer] = {}
        self._site_locks: dict[str, threading.Lock] = {}

    def check(self, url: str) -> tuple[bool, float | None, object]:
        """(allowed, crawl delay, failure): failure is set when robots.txt was unreachable."""
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        rules = self._rules(site)
        if isinstance(rules, RobotsAnswer):
            return False, None, rules.failure
        delay = rules.crawl_delay(self.agent)
        return rules.can_fetch(self.agent, url), float(delay) if delay else None, None

    def _rules(self, site: str) -> urllib.robotparser.RobotFileParser | RobotsAnswer:
        with self._lock:
            site_lock = self._site_locks.setdefault(site, threading.Lock())
        with site_lock:  # one fetch per site, even with many threads asking at once
            if site not in self._sites:
                self._sites[site] = self._load(site)
            return self._sites[site]

    def _load(self, site: str) -> urllib.robotparser.RobotFileParser | RobotsAnswer:
        answer = self._get(f"{site}/robots.txt")
        parser = urllib.robotparser.RobotFileParser()
        if answer.status is None:
            return answer
        if answer.status >= 500:
            parser.parse(["User-agent: *", "Disallow: /"])
        elif answer.status >= 400:
            parser.parse([])  # no rules: everything allowed
        else:
            text = answer.body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            parser.parse(text.splitlines())
        return parser
