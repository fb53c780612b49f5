"""Banks the service creates for itself: the portal's, the takedown bank, the likeness bank.

Each is found by its configured name and created on first use. Several workers may get there
at once; the bank name is unique, so the loser of that race gets an IntegrityError, rolls
back and reads the winner's bank. A new bank is published through the change log like one
made through the API, so every worker's index knows it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hashwall.store import Bank, Change, ChangeKind

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service")


class SystemBankError(RuntimeError):
    """The bank could neither be read nor created (the database keeps refusing)."""


def ensure_bank(state: ServiceState, name: str, *, description: str, action: str | None) -> int:
    """The id of the bank called ``name``, created with this description and action if missing."""
    for _ in range(3):
        with state.db.session() as session:
            bank_id = session.scalar(select(Bank.id).where(Bank.name == name))
        if bank_id is not None:
            return int(bank_id)
        try:
            with state.db.session() as session:
                bank = Bank(name=name, description=description, action=action)
                session.add(bank)
                session.flush()
                session.add(Change(kind=ChangeKind.BANK, target_id=bank.id))
                bank_id = bank.id
        except IntegrityError:  # another worker created it: read theirs
            continue
        state.publish(ChangeKind.BANK, int(bank_id))
        log.info("created the bank %r (id %d)", name, bank_id)
        return int(bank_id)
    raise SystemBankError(f"the bank {name!r} could not be read or created; try again")
