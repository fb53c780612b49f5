"""Uploads from people without a key: their own, much lower decoding limits and a gate.

Why: the removal-request intake hashes a copy of the content for anyone, and decoding is
where a few kilobytes turn into gigabytes (a 27 KB PNG declaring 15000x15000 pixels) or into
seconds of CPU (a 162 KB file declaring 100 s of 1080p). So a public upload is

* refused from its header when the picture or video frame has more than
  ``public_max_pixels`` pixels, or the video declares more than ``public_max_video_seconds``;
* decoded with at most ``public_max_video_frames`` frames, within
  ``public_max_decode_seconds`` of wall-clock time, on one FFmpeg thread;
* decoded only while this worker holds a slot of the :class:`UploadGate`: at most
  ``public_upload_concurrency`` at once (a request waits ``public_upload_wait_seconds`` for
  one, then gets a 429) and ``public_upload_concurrency_per_ip`` per client address (429 at
  once), so peak memory is about that many times one decode of the largest allowed picture.

The gate is per worker process: with N workers, N times as many decode at most.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hashwall.hashing import HashOptions
from hashwall.media.video import VideoLimits
from hashwall.service.settings import Settings

#: What a refused client is told to wait, in seconds (a decode takes a few seconds at most).
RETRY_AFTER_SECONDS = 10
_POLL_SECONDS = 0.05


def public_hash_options(settings: Settings) -> HashOptions:
    """The ``hashwall hash`` defaults, with the public decoding limits."""
    limits = VideoLimits(
        max_frames=settings.public_max_video_frames,
        max_seconds=settings.public_max_video_seconds,
        max_decode_seconds=settings.public_max_decode_seconds,
        threads=1,
    )
    return HashOptions(max_pixels=settings.public_max_pixels, video_limits=limits)


class Busy(Exception):
    """No slot: ``message`` for the person, ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class UploadGate:
    """Counts public uploads being decoded in this worker, in total and per address.

    A counter under a lock rather than an asyncio semaphore: it is created before the
    event loop and does not care which loop (or thread) asks.
    """

    def __init__(self, total: int, per_address: int) -> None:
        self.total = total
        self.per_address = per_address
        self._lock = threading.Lock()
        self._active = 0
        self._by_address: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadGate:
        return cls(settings.public_upload_concurrency, settings.public_upload_concurrency_per_ip)

    @property
    def active(self) -> int:
        return self._active

    def try_enter(self, address: str) -> str | None:
        """None when a slot was taken; else why not (``"address"`` or ``"busy"``)."""
        with self._lock:
            if self._by_address.get(address, 0) >= self.per_address:
                return "address"
            if self._active >= self.total:
                return "busy"
            self._active += 1
            self._by_address[address] = self._by_address.get(address, 0) + 1
            return None

    def leave(self, address: str) -> None:
        with self._lock:
            self._active -= 1
            left = self._by_address.get(address, 1) - 1
            if left > 0:
                self._by_address[address] = left
            else:
                self._by_address.pop(address, None)

    @asynccontextmanager
    async def slot(self, address: str, wait_seconds: float) -> AsyncIterator[None]:
        """Hold a slot while the body runs; :class:`Busy` when none comes in time."""
        deadline = time.monotonic() + wait_seconds
        while (refused := self.try_enter(address)) is not None:
            if refused == "address":
                raise Busy(
                    "another upload from your network is still being processed: "
                    "wait for it to finish, then try again"
                )
            if time.monotonic() >= deadline:
                raise Busy("too many uploads are being processed right now: try again shortly")
            await asyncio.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            self.leave(address)
