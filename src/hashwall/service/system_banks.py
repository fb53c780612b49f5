"""Banks the service creates for itself: the portal's, the takedown bank, the likeness bank.

Each is found by its configured name and created on first use. Several workers may get there
at once; the bank name is unique, so the loser of that race gets an IntegrityError, rolls
back and reads the winner's bank. A new bank is published through the change log like one
made through the API, so every worker's index knows it.

The portal and takedown banks are filled by the public, without an account, so they carry
``entry_source`` (their matches ask for human review only, unless an operator opts in: see
docs/security.md). A bank found under the configured name without it - one a curator made,
or one from before the column - is marked on first use, before any public entry goes in.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hashwall.store import Bank, Change, ChangeKind

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

log = logging.getLogger("hashwall.service")


class SystemBankError(RuntimeError):
    """The bank could neither be read nor created (the database keeps refusing)."""


def ensure_bank(
    state: ServiceState,
    name: str,
    *,
    description: str,
    action: str | None,
    source: str | None = None,
) -> int:
    """The id of the bank called ``name``, created with this description and action if missing;
    ``source`` (``portal``, ``takedown``) marks a bank the public fills."""
    for _ in range(3):
        with state.db.session() as session:
            found = session.execute(
                select(Bank.id, Bank.entry_source).where(Bank.name == name)
            ).first()
        if found is not None:
            if source is not None and found.entry_source != source:
                _mark_public(state, int(found.id), source)
            return int(found.id)
        try:
            with state.db.session() as session:
                bank = Bank(name=name, description=description, action=action, entry_source=source)
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


def _mark_public(state: ServiceState, bank_id: int, source: str) -> None:
    with state.db.session() as session:
        session.execute(update(Bank).where(Bank.id == bank_id).values(entry_source=source))
        session.add(Change(kind=ChangeKind.BANK, target_id=bank_id))
    state.publish(ChangeKind.BANK, bank_id)
    log.info("bank %d now holds public entries (%s): its matches ask for review", bank_id, source)
