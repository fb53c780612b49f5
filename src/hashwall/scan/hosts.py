"""Politeness per host: at most ``concurrency`` requests at once and at least ``interval``
seconds between the starts of two requests to the same host (robots.txt included)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class HostGate:
    def __init__(self, concurrency: int, interval: float) -> None:
        self.concurrency = max(1, concurrency)
        self.interval = max(0.0, interval)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._intervals: dict[str, float] = {}

    def slow_down(self, host: str, interval: float) -> None:
        """A longer interval for one host (its robots.txt Crawl-delay)."""
        with self._lock:
            self._intervals[host] = max(self.interval, interval)

    @contextmanager
    def turn(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots, started no sooner than its rate allows."""
        with self._lock:
            slot = self._slots.setdefault(host, threading.Semaphore(self.concurrency))
        with slot:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self._intervals.get(host, self.interval)
            time.sleep(max(0.0, start - now))
            yield
