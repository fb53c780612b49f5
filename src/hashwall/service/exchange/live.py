"""Make an applied exchange visible in this worker before the API answers.

Other workers (and a server running beside a ``hashwall exchange`` CLI import) learn of it
from the change rows written with the entries; this worker applies them now, as the entries
API does, and runs the retroactive sweep of new entries against the catalog.
"""

from __future__ import annotations

from hashwall.service.after_commit import sweep_committed
from hashwall.service.exchange.apply import ApplyResult
from hashwall.service.state import ServiceState
from hashwall.store import ChangeKind


def publish(state: ServiceState, result: ApplyResult) -> None:
    """Never raises: the exchange is committed (what fails here, the tailer or the background
    sweep finishes)."""
    state.publish_entries(list(result.changed_entry_ids))
    if result.job_id is not None:
        state.publish(ChangeKind.IMPORT, result.job_id)
    if result.sweep_id is not None:
        sweep_committed(state, result.sweep_id)
