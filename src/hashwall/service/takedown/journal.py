"""Transactions that change a case together with their audit entries.

Every change (state, task, webhook outcome, view) is written by :func:`audited`: one
transaction holding the change and its ``append_in_session`` entries, so the chain never
claims something the tables do not show, nor the other way round. Two writers appending at
once collide on the chain's ``seq`` (or SQLite's write lock); the loser re-runs its whole
transaction on the new head, which is why ``work`` must only touch the session.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hashwall.cases.audit_db import append_in_session
from hashwall.service.takedown.config import clock_for

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

T = TypeVar("T")
RETRIES = 20


def _retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, OperationalError) and "locked" in str(error.orig)


def audited(state: ServiceState, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction, retried when another audit append got there first."""
    for attempt in range(RETRIES):
        try:
            with state.db.session(immediate=True) as session:  # reads the chain's head
                return work(session)
        except (IntegrityError, OperationalError) as error:
            if attempt == RETRIES - 1 or not _retryable(error):
                raise
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")


def record(
    state: ServiceState,
    session: Session,
    *,
    actor: str,
    action: str,
    case_id: str,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Append one audit entry inside the caller's transaction."""
    append_in_session(
        session, clock_for(state), actor=actor, action=action, case_id=case_id, data=data
    )
