"""Work that follows a committed write (the retroactive sweep, fresh planner statistics),
told apart from the write.

Why: a committed write must be answered as committed. Adds and imports used to run their
sweep (linking the new entry to catalog copies) inside the request and let its failure
become a 500, so a client told "failed" retried or gave up while the entry was live and
matchable. The sweep job is committed with the write it sweeps, so when running it now fails
it simply stays ``pending`` and the background sweep thread (actions/background.py) finishes
it; the answer says which of the two happened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from hashwall.service.sweep import SweepResult, run_job
from hashwall.store import Database

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service.after_commit")

#: What an answer says of the sweep after its write (not the stored ``SweepStatus``).
SweepOutcome = Literal["done", "pending"]


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


def sweep_status(result: SweepResult | None) -> SweepOutcome:
    return "pending" if result is None else "done"


#: The tables a bulk import of entries fills.
BULK_TABLES = ("entries", "entry_signals")
#: The tables a bulk import of catalog items fills.
CATALOG_TABLES = ("catalog_items", "catalog_signals")
#: Rows after which a bulk write refreshes the planner's statistics.
STATISTICS_AFTER_ROWS = 1_000


def refresh_statistics(db: Database, tables: Sequence[str], rows: int) -> None:
    """``ANALYZE`` these tables on PostgreSQL after a bulk write of ``rows`` rows.

    Why: the planner picks its plans from table statistics, which autovacuum gathers late or
    never (it may be off, or behind): after a 500k-entry import both workers' index refresh
    ran for more than 15 minutes on sequential scans planned for nearly empty tables. An
    ``ANALYZE`` reads a fixed sample (about 30,000 rows per table), a fraction of a second at
    any size, so plans never depend on whether autovacuum has run. Never raises: the
    import is committed."""
    if rows < STATISTICS_AFTER_ROWS or db.is_sqlite:
        return
    try:
        with db.engine.connect() as connection:
            connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
            connection.commit()
    except Exception:
        log.warning("refreshing planner statistics of %s failed", tables, exc_info=True)
