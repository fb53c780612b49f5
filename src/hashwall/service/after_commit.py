"""Work that follows a committed write: the retroactive sweep, told apart from the write.

Why: a committed write must be answered as committed. Adds and imports used to run their
sweep (linking the new entry to catalog copies) inside the request and let its failure
become a 500, so a client told "failed" retried or gave up while the entry was live and
matchable. The sweep job is committed with the write it sweeps, so when running it now fails
it simply stays ``pending`` and the background sweep thread (actions/background.py) finishes
it; the answer says which of the two happened.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from hashwall.service.sweep import SweepResult, run_job

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service.after_commit")

SweepStatus = Literal["done", "pending"]


def sweep_committed(state: ServiceState, job_id: int) -> SweepResult | None:
    """Run a committed sweep job now; ``None`` when it failed and was left pending."""
    try:
        return run_job(state, job_id)
    except Exception:
        log.warning(
            "sweep job %d failed after its write committed; it stays pending and is "
            "finished in the background",
            job_id,
            exc_info=True,
        )
        return None


def sweep_status(result: SweepResult | None) -> SweepStatus:
    return "pending" if result is None else "done"
