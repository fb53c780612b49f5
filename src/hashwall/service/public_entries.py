"""Entries the public adds without an account (portal cases, removal requests).

Their banks carry ``entry_source`` and their matches ask for human review only (see
``BankInfo.review_only`` and ``actions.dispatch.bank_actions``). An operator who wants even
that to wait for a person sets the bank's ``review_new_entries``: new public entries then
start in quarantine, listed in ``GET /v1/quarantine`` like a flooded entry, and match once a
reviewer reinstates them (docs/security.md, "Public entries").
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.store import Bank, Entry, EntryState
from hashwall.store.action_models import EntryQuarantine


def holds_new_entries(session: Session, bank_id: int) -> bool:
    """Whether new public entries of this bank wait for a reviewer before they match."""
    return bool(session.scalar(select(Bank.review_new_entries).where(Bank.id == bank_id)))


def hold_for_review(session: Session, entries: Sequence[Entry]) -> None:
    """Put just-flushed entries in quarantine, with a record the quarantine queue lists
    (0 distinct items against threshold 0: held on arrival, not for flooding)."""
    for entry in entries:
        entry.state = EntryState.QUARANTINED
        session.add(EntryQuarantine(entry_id=entry.id, distinct_items=0, threshold=0))
