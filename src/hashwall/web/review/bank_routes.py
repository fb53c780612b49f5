"""Bank management for curators and admins: list, create, rename, enable/disable, threshold
and action.

Writes go through the JSON API's own ``create_bank`` and ``update_bank`` (same validation
models, change log and live-index publication), so a bank changed here matches, or stops
matching, exactly as one changed over ``/v1/banks``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from hashwall.service.auth import Permission
from hashwall.service.errors import ApiError
from hashwall.service.routes import banks
from hashwall.service.schemas import BankCreate, BankUpdate
from hashwall.web.review.access import Reviewer, checked_form, needs, service_state
from hashwall.web.review.bodies import reviewer_form
from hashwall.web.review.pages import PageError, redirect, render

router = APIRouter(include_in_schema=False)
CuratorDep = Annotated[Reviewer, Depends(needs(Permission.BANKS_WRITE))]
BankId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ACTIONS = [
    ("", "none"),
    ("review", "review queue"),
    ("webhook", "webhook"),
    ("review+webhook", "review queue and webhook"),
]
_ACTION_VALUES = {value for value, _ in ACTIONS}


def _action(form: FormData) -> str | None:
    value = str(form.get("action") or "")
    if value not in _ACTION_VALUES:
        raise PageError(400, "Choose one of the listed actions.")
    return value or None


def _errors(error: ValidationError) -> dict[str, str]:
    """One message per field, as the JSON API words them."""
    found: dict[str, str] = {}
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "form"
        found.setdefault(field, str(problem["msg"]).removeprefix("Value error, "))
    return found


async def _page(
    request: Request,
    reviewer: Reviewer,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    message: str = "",
    status: int = 200,
) -> Response:
    state = service_state(request)
    listing = await run_in_threadpool(banks.list_banks, state, reviewer.principal)
    context = {
        "title": "Banks",
        "user": reviewer,
        "banks": listing,
        "actions": ACTIONS,
        "errors": errors or {},
        "values": values or {},
        "message": message,
    }
    return render("review/banks.html", context, status)


@router.get("/review/banks")
async def bank_list(request: Request, reviewer: CuratorDep) -> Response:
    return await _page(request, reviewer)


@router.post("/review/banks")
@reviewer_form
async def bank_create(request: Request, reviewer: CuratorDep) -> Response:
    form = await checked_form(request, reviewer)
    values: dict[str, Any] = {
        key: str(form.get(key) or "") for key in ("name", "description", "pdq_threshold")
    }
    values.update(action=str(form.get("action") or ""), negative="negative" in form)
    try:
        body = BankCreate.model_validate({**values, "action": _action(form)})
        await run_in_threadpool(banks.create_bank, body, service_state(request), reviewer.principal)
    except ValidationError as error:
        return await _page(request, reviewer, errors=_errors(error), values=values, status=422)
    except ApiError as error:
        errors = {error.field or "form": error.message}
        return await _page(request, reviewer, errors=errors, values=values, status=error.status)
    return redirect("/review/banks")


@router.post("/review/banks/{bank_id}")
@reviewer_form
async def bank_update(request: Request, bank_id: BankId, reviewer: CuratorDep) -> Response:
    form = await checked_form(request, reviewer)
    raw = {
        "name": str(form.get("name") or ""),
        "pdq_threshold": str(form.get("pdq_threshold") or ""),
        "action": _action(form),
        "enabled": "enabled" in form,
    }
    try:
        body = BankUpdate.model_validate(raw)
        await run_in_threadpool(
            banks.update_bank, bank_id, body, service_state(request), reviewer.principal
        )
    except ValidationError as error:
        problems = "; ".join(f"{field}: {text}" for field, text in _errors(error).items())
        return await _page(request, reviewer, errors={"form": problems}, status=422)
    except ApiError as error:
        if error.status == 404:
            raise PageError(404, error.message) from None
        return await _page(request, reviewer, errors={"form": error.message}, status=error.status)
    return redirect("/review/banks")
