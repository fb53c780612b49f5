"""Background work of one worker process besides the change tailer.

Started by the app after the index is loaded: the webhook sender, the sweep thread (it
finishes sweep jobs left pending by a crash or restart without holding up start-up, then
retries, every ``sweep_retry_seconds``, jobs whose in-request sweep failed, e.g. on a database
error; a request may also hand it a job to run now, as a large bulk import does instead of
sweeping before it answers), the match-record pruner (retention.py, every
``match_record_prune_seconds``), and the takedown thread (pending case sweeps, escalations,
takedown calls; docs/takedown.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from hashwall.service.actions.webhooks import WebhookWorker
from hashwall.service.after_commit import sweep_committed
from hashwall.service.retention import prune_match_records
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
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._soon: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.resume = threading.Thread(
            target=self._resume_sweeps, name="hashwall-sweep-resume", daemon=True
        )
        self.pruner = threading.Thread(
            target=self._prune_records, name="hashwall-record-pruner", daemon=True
        )

    def sweep_soon(self, job_id: int) -> None:
        """Run this sweep job on the sweep thread now (a request need not wait for it)."""
        self._soon.put(job_id)
        self._wake.set()

    def _run_handed(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = self._soon.get_nowait()
            except queue.Empty:
                return
            result = sweep_committed(self.state, job_id)  # failed: pending, retried later
            if result is not None:
                log.info("sweep job %d: %d new matches", job_id, result.new_matches)

    def _resume_sweeps(self) -> None:
        # At start every pending job is stale (its request died with the old process); later,
        # only jobs older than a retry period, so a request's own sweep is never raced.
        period = self.state.settings.sweep_retry_seconds
        older_than: timedelta | None = None
        next_pass = 0.0
        while not self._stop.is_set():
            self._run_handed()
            if time.monotonic() >= next_pass:
                try:
                    run_pending(self.state, older_than=older_than)
                except Exception:
                    log.exception("finishing pending sweep jobs failed; retrying in %.0f s", period)
                older_than = timedelta(seconds=period)
                next_pass = time.monotonic() + period
            self._wake.wait(max(0.0, next_pass - time.monotonic()))
            self._wake.clear()

    def _prune_records(self) -> None:
        # Every worker prunes (one would do; concurrent prunes never count a record twice).
        retention = self.state.settings.match_record_retention
        if retention is None:
            return
        period = self.state.settings.match_record_prune_seconds
        delay = min(period, 60.0)  # not in the rush of a start
        while not self._stop.wait(delay):
            try:
                prune_match_records(self.state.db, retention)
            except Exception:
                log.exception("pruning match records failed; retrying in %.0f s", period)
            delay = period

    def start(self) -> None:
        self.state.webhooks = self.webhooks
        self.webhooks.start()
        self.resume.start()
        self.state.sweep_soon = self.sweep_soon
        self.pruner.start()
        self.takedown.start()

    def stop(self) -> None:
        self.state.sweep_soon = None
        self._stop.set()
        self._wake.set()
        self.resume.join(timeout=30)
        self.pruner.join(timeout=30)
        self.takedown.stop()
        self.webhooks.stop()
        self.state.webhooks = None
