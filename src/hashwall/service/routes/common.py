"""Small helpers shared by the routers: path parameters and loading rows or 404."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Path
from sqlalchemy.orm import Session

from hashwall.service.errors import ApiError
from hashwall.store.models import Base

#: Ids fit a signed 64-bit integer; anything larger is a 422, not a database overflow.
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]

T = TypeVar("T", bound=Base)


def load_or_404(
    session: Session, model: type[T], row_id: int, what: str, field: str | None = None
) -> T:
    """The row, or a 404 naming it and the path field (``{what}_id`` unless given)."""
    row = session.get(model, row_id)
    if row is None:
        raise ApiError(404, f"no {what} with id {row_id}", field or f"{what}_id")
    return row
