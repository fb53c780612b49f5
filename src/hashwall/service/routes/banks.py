"""Banks: lists of prohibited content (or, for negative banks, known false positives).

Who may change what (docs/security.md, "Public entries"): a key limited to some banks may
change only those, and create none; the banks the public fills (portal, takedown) may be
renamed, disabled or given another flood threshold only by an admin - a curator key that
switched the portal bank off would silently stop protecting every survivor who used it -
and only an admin opts a bank into automatic actions for public entries.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hashwall.service.auth import Permission, Principal, Role, require
from hashwall.service.errors import ApiError
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.schemas import BankCreate, BankOut, BankUpdate
from hashwall.service.state import ServiceState, get_state
from hashwall.store import Bank, Change, ChangeKind

router = APIRouter(prefix="/v1/banks", tags=["banks"])
State = Annotated[ServiceState, Depends(get_state)]


def bank_out(bank: Bank) -> BankOut:
    return BankOut.model_validate(bank, from_attributes=True)


@router.post("", status_code=201, response_model=BankOut)
def create_bank(
    body: BankCreate,
    state: State,
    principal: Annotated[Principal, require(Permission.BANKS_WRITE)],
) -> BankOut:
    if principal.banks is not None:
        raise ApiError(403, "this API key is limited to some banks: it cannot create banks", None)
    public_names = (state.settings.portal_bank, state.settings.takedown_bank)
    if body.name in public_names and principal.role is not Role.ADMIN:
        # Made ahead of the first submission (disabled, say), it would be the public bank.
        raise ApiError(403, f"only an admin may create the bank {body.name!r}", "name")
    try:
        with state.db.session() as session:
            bank = Bank(**body.model_dump())
            session.add(bank)
            session.flush()
            session.add(Change(kind=ChangeKind.BANK, target_id=bank.id))
    except IntegrityError:
        raise ApiError(409, f"a bank named {body.name!r} already exists", "name") from None
    state.publish(ChangeKind.BANK, bank.id)
    return bank_out(bank)


#: Settings only an admin may change: on every bank, and on the banks the public fills.
ADMIN_ONLY = ("public_actions", "review_new_entries")
ADMIN_ONLY_ON_PUBLIC_BANKS = ("name", "enabled", "flood_threshold")


def _check_admin_only(bank: Bank, changes: dict[str, Any], principal: Principal) -> None:
    """403 when a non-admin would change what only an admin may. Fields sent unchanged are
    fine (the reviewer pages' form sends every field)."""
    if principal.role is Role.ADMIN:
        return
    guarded = ADMIN_ONLY + (ADMIN_ONLY_ON_PUBLIC_BANKS if bank.entry_source else ())
    for field in guarded:
        if field in changes and changes[field] != getattr(bank, field):
            where = f"the {bank.entry_source} bank" if bank.entry_source else "a bank"
            raise ApiError(403, f"only an admin may change {field!r} of {where}", field)


@router.get("", response_model=list[BankOut])
def list_banks(
    state: State, _: Annotated[Principal, require(Permission.BANKS_READ)]
) -> list[BankOut]:
    with state.db.session(readonly=True) as session:
        return [bank_out(b) for b in session.scalars(select(Bank).order_by(Bank.id))]


@router.get("/{bank_id}", response_model=BankOut)
def get_bank(
    bank_id: Id, state: State, _: Annotated[Principal, require(Permission.BANKS_READ)]
) -> BankOut:
    with state.db.session(readonly=True) as session:
        return bank_out(load_or_404(session, Bank, bank_id, "bank"))


@router.patch("/{bank_id}", response_model=BankOut)
def update_bank(
    bank_id: Id,
    body: BankUpdate,
    state: State,
    principal: Annotated[Principal, require(Permission.BANKS_WRITE)],
) -> BankOut:
    """Rename, disable/enable, change the threshold (at most 31) or the action. Admins only:
    renaming, disabling or re-thresholding a public bank (portal, takedown), and
    `public_actions` / `review_new_entries`."""
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "enabled", "pdq_threshold", "public_actions", "review_new_entries"):
        if field in changes and changes[field] is None:
            raise ApiError(422, "must not be null", field)
    try:
        with state.db.session() as session:
            bank = load_or_404(session, Bank, bank_id, "bank")
            principal.check_bank(bank.id)
            _check_admin_only(bank, changes, principal)
            for field, value in changes.items():
                setattr(bank, field, value)
            session.add(Change(kind=ChangeKind.BANK, target_id=bank.id))
            session.flush()
    except IntegrityError:
        raise ApiError(409, f"a bank named {body.name!r} already exists", "name") from None
    state.publish(ChangeKind.BANK, bank_id)
    return bank_out(bank)
