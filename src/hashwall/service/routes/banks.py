"""Banks: lists of prohibited content (or, for negative banks, known false positives)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hashwall.service.auth import Permission, Principal, require
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
    _: Annotated[Principal, require(Permission.BANKS_WRITE)],
) -> BankOut:
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


@router.get("", response_model=list[BankOut])
def list_banks(
    state: State, _: Annotated[Principal, require(Permission.BANKS_READ)]
) -> list[BankOut]:
    with state.db.session() as session:
        return [bank_out(b) for b in session.scalars(select(Bank).order_by(Bank.id))]


@router.get("/{bank_id}", response_model=BankOut)
def get_bank(
    bank_id: Id, state: State, _: Annotated[Principal, require(Permission.BANKS_READ)]
) -> BankOut:
    with state.db.session() as session:
        return bank_out(load_or_404(session, Bank, bank_id, "bank"))


@router.patch("/{bank_id}", response_model=BankOut)
def update_bank(
    bank_id: Id,
    body: BankUpdate,
    state: State,
    _: Annotated[Principal, require(Permission.BANKS_WRITE)],
) -> BankOut:
    """Rename, disable/enable, change the threshold (at most 31) or the action."""
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "enabled", "pdq_threshold"):
        if field in changes and changes[field] is None:
            raise ApiError(422, "must not be null", field)
    try:
        with state.db.session() as session:
            bank = load_or_404(session, Bank, bank_id, "bank")
            for field, value in changes.items():
                setattr(bank, field, value)
            session.add(Change(kind=ChangeKind.BANK, target_id=bank.id))
            session.flush()
    except IntegrityError:
        raise ApiError(409, f"a bank named {body.name!r} already exists", "name") from None
    state.publish(ChangeKind.BANK, bank_id)
    return bank_out(bank)
