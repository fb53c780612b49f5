"""Background work of one worker process besides the change tailer.

Started by the app after the index is loaded: the webhook sender, a one-off thread that
finishes sweep jobs left pending by a crash or restart (so start-up is not held up by them),
and the takedown thread (pending case sweeps, escalations, takedown calls; docs/takedown.md).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from hashwall.service.actions.webhooks import WebhookWorker
from hashwall.service.sweep import run_pending
from hashwall.service.takedown.worker import TakedownWorker

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service")


class Background:
    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.webhooks = WebhookWorker(state.db, state.settings)
        self.takedown = TakedownWorker(state)
        self.resume = threading.Thread(
            target=self._resume_sweeps, name="hashwall-sweep-resume", daemon=True
        )

    def _resume_sweeps(self) -> None:
        try:
            run_pending(self.state)
        except Exception:
            log.exception("finishing pending sweep jobs failed; they run at the next start")

    def start(self) -> None:
        self.state.webhooks = self.webhooks
        self.webhooks.start()
        self.resume.start()
        self.takedown.start()

    def stop(self) -> None:
        self.resume.join(timeout=30)
        self.takedown.stop()
        self.webhooks.stop()
        self.state.webhooks = None
