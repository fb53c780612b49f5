"""The thread loop shared by the webhook sender and the takedown worker.

Both poll database tables that other workers also write, so the loop must survive a failed
pass (the database may be restarting), go again at once while a full batch suggests more is
due, and otherwise sleep until the poll interval passes or ``wake()`` says new work was
committed in this process.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import ClassVar


class PollingWorker(ABC):
    """A daemon thread that calls :meth:`run_once` until :meth:`stop`."""

    #: Thread name, seen in stack dumps.
    thread_name: ClassVar[str]
    #: A pass that handled this many items did not drain the table: go again without waiting.
    batch: ClassVar[int]
    #: Where a failed pass is logged, and the message.
    logger: ClassVar[logging.Logger]
    failure_message: ClassVar[str]

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """New work was committed: look now instead of at the next poll."""
        self._wake.set()

    @abstractmethod
    def run_once(self) -> int:
        """One pass; returns how many items it handled."""

    @abstractmethod
    def poll_seconds(self) -> float:
        """How long to sleep after a pass that drained the table."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # the database may be restarting; keep going
                self.logger.exception(self.failure_message)
                handled = 0
            if handled < self.batch:
                self._wake.wait(self.poll_seconds())
                self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
