"""Make an applied exchange visible in this worker before the API answers.

Other workers (and a server running beside a ``hashwall exchange`` CLI import) learn of it
from the change rows written with the entries; this worker applies them now, as the entries
API does, and runs the retroactive sweep of new entries against the catalog.
"""

from __future__ import annotations

from hashwall.service.exchange.apply import ApplyResult
from hashwall.service.state import ServiceState
from hashwall.service.sweep import run_job
from hashwall.store import ChangeKind


def publish(state: ServiceState, result: ApplyResult) -> None:
    if result.changed_entry_ids:
        state.index.sync_entries(state.db, result.changed_entry_ids)
    if result.job_id is not None:
        state.publish(ChangeKind.IMPORT, result.job_id)
    if result.sweep_id is not None:
        run_job(state, result.sweep_id)
