"""The takedown thread of one worker process (started by ``actions.background``).

Each pass: finish takedown jobs left pending (at start, then every ``takedown_poll_seconds``,
so a job whose request died with its worker is finished by any survivor), turn copies the
catalog registered after their case into tasks, fire escalations that came due, and send due
task and escalation calls. ``wake()`` makes it look at once, so a
case actioned in this worker has its calls sent without waiting for the next poll.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from hashwall.service.actions.polling import PollingWorker
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


class TakedownWorker(PollingWorker):
    thread_name = "hashwall-takedown"
    batch = BATCH
    logger = log
    failure_message = "takedown loop failed; retrying"

    def __init__(self, state: ServiceState) -> None:
        super().__init__()
        self.state = state
        self._next_sweep = 0.0  # monotonic time of the next pending-job check (0: at once)

    def run_once(self) -> int:
        """One pass; returns how many calls were attempted."""
        if time.monotonic() >= self._next_sweep:
            run_pending_takedowns(self.state)
            task_late_copies(self.state)
            fire_escalations(self.state)
            self._next_sweep = time.monotonic() + self.state.settings.takedown_poll_seconds
        return send_due_tasks(self.state) + send_due_escalations(self.state)

    def poll_seconds(self) -> float:
        settings = self.state.settings
        return min(settings.webhook_poll_seconds, settings.takedown_poll_seconds)

    def start(self) -> None:
        self.state.takedown_waker = self.wake  # read by sweep.wake_sender
        super().start()

    def stop(self) -> None:
        super().stop()
        self.state.takedown_waker = None
