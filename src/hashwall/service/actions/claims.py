"""Claiming due rows of a delivery table: bank webhook deliveries, takedown tasks, escalations.

Several worker processes poll the same tables and nothing is held in memory, so a row is
*claimed* with one conditional UPDATE that bumps ``claim_version`` and pushes the row's next
attempt past the request timeout (the lease). The UPDATE matches only if nobody bumped the
version since the row was read, so exactly one worker sends it; a worker that dies mid-call
holds the row only until the lease runs out. Recording the outcome checks the version again,
so a worker whose lease ran out cannot overwrite what the worker that took over recorded.
The per-table queries (what is due, what the lease column is called) stay with their callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from hashwall.service.settings import Settings
from hashwall.store import Database

#: Seconds the lease outlasts the request timeout (commit and bookkeeping after the call).
LEASE_MARGIN_SECONDS = 30


class _Claimable(Protocol):
    @property
    def claim_version(self) -> int: ...


_Row = TypeVar("_Row", bound=_Claimable)
_Payload = TypeVar("_Payload")


def lease_until(settings: Settings, now: datetime) -> datetime:
    """When a claim taken at ``now`` lapses: past any call still in flight."""
    return now + timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)


def claim(
    session: Session,
    model: type[Any],
    row_id: int,
    version: int,
    *conditions: ColumnElement[bool],
    **lease: Any,
) -> bool:
    """Bump row ``row_id`` of ``model`` past ``version`` and set ``lease`` (its next-attempt
    column), only if no other worker did first; True when this worker won the row.

    ``conditions`` narrow the match further (e.g. still pending). The session is not
    synchronised: callers hold the new version themselves (``version + 1``).
    """
    won = session.execute(
        update(model)
        .where(model.id == row_id, model.claim_version == version, *conditions)
        .values(claim_version=version + 1, **lease)
        .execution_options(synchronize_session=False)
    )
    return bool(won.rowcount == 1)  # type: ignore[attr-defined]


def claim_due(
    db: Database,
    model: type[Any],
    due: Sequence[tuple[int, int, _Payload]],
    *conditions: ColumnElement[bool],
    **lease: Any,
) -> list[tuple[int, int, _Payload]]:
    """Claim the rows a poll read as due - (row id, version read, what the call needs) - and
    return the ones this worker won, with their new version.

    In a transaction of its own that holds SQLite's write lock from its start, and only when
    something is due (every worker polls every second): a claim made in the transaction that
    read the poll could go stale when another worker committed meanwhile, and SQLite then
    refuses the write at once ("database is locked", no waiting).
    """
    if not due:
        return []
    with db.session(immediate=True) as session:
        return [
            (row_id, version + 1, payload)
            for row_id, version, payload in due
            if claim(session, model, row_id, version, *conditions, **lease)
        ]


def claimed_row(session: Session, model: type[_Row], row_id: int, version: int) -> _Row | None:
    """The row if this worker's claim on it still holds; None if it is gone or was re-claimed."""
    row = session.get(model, row_id)
    if row is None or row.claim_version != version:
        return None
    return row
