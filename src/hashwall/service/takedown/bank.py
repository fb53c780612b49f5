"""The takedown bank: where the hashes of every removal request go.

Created on the first request under the configured name. Its entries are ordinary active bank
entries, so the normal match path (``/v1/match/...``, catalog registration) blocks re-uploads
of the content at once. It has no bank action: the removal tasks of the case are its action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hashwall.store import Bank, Change, ChangeKind

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

DESCRIPTION = "Hashes of content named in removal requests (hashwall takedown)"


def takedown_bank(state: ServiceState) -> int:
    """The id of the takedown bank, creating it when missing (race-safe across workers)."""
    name = state.settings.takedown_bank
    for _ in range(3):
        with state.db.session() as session:
            bank_id = session.scalar(select(Bank.id).where(Bank.name == name))
        if bank_id is not None:
            return int(bank_id)
        try:
            with state.db.session() as session:
                bank = Bank(name=name, description=DESCRIPTION, action=None)
                session.add(bank)
                session.flush()
                session.add(Change(kind=ChangeKind.BANK, target_id=bank.id))
                bank_id = bank.id
        except IntegrityError:  # another worker created it: read it again
            continue
        state.publish(ChangeKind.BANK, int(bank_id))
        return int(bank_id)
    raise RuntimeError(f"cannot create or read the takedown bank {name!r}")
