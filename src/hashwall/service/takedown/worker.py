"""The takedown thread of one worker process (started by ``actions.background``).

Each pass: finish takedown jobs left pending (at start, then every ``takedown_poll_seconds``,
so a job whose request died with its worker is finished by any survivor), turn copies the
catalog registered after their case into tasks, fire escalations that came due, and send due
task and escalation calls. ``wake()`` makes it look at once, so a
case actioned in this worker has its calls sent without waiting for the next poll.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from hashwall.service.takedown.delivery import (
    BATCH,
    fire_escalations,
    send_due_escalations,
    send_due_tasks,
)
from hashwall.service.takedown.sweep import run_pending_takedowns, task_late_copies

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service.takedown")


class TakedownWorker:
    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0  # monotonic time of the next pending-job check (0: at once)

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """One pass; returns how many calls were attempted."""
        if time.monotonic() >= self._next_sweep:
            run_pending_takedowns(self.state)
            task_late_copies(self.state)
            fire_escalations(self.state)
            self._next_sweep = time.monotonic() + self.state.settings.takedown_poll_seconds
        return send_due_tasks(self.state) + send_due_escalations(self.state)

    def _run(self) -> None:
        settings = self.state.settings
        wait = min(settings.webhook_poll_seconds, settings.takedown_poll_seconds)
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except Exception:  # the database may be restarting; keep going
                log.exception("takedown loop failed; retrying")
                sent = 0
            if sent < BATCH:
                self._wake.wait(wait)
                self._wake.clear()

    def start(self) -> None:
        self.state.takedown_waker = self.wake  # read by sweep.wake_sender
        self._thread = threading.Thread(target=self._run, name="hashwall-takedown", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.state.takedown_waker = None
