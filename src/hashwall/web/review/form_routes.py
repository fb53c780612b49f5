"""The public removal-request form, ``/takedown``: no account, CSRF-protected.

Invalid input shows the form again with everything the person typed and one message next to
each bad field, and stores nothing (the takedown backend validates the whole request before
writing). Valid input shows the receipt: case number and deadline. The uploaded copy, if any,
is passed to the backend in memory to be fingerprinted; it is never written here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from hashwall.cases.intake import GOOD_FAITH_STATEMENT, IntakeError, validate_request
from hashwall.service.client_address import client_key
from hashwall.service.portal import Rule, Throttles
from hashwall.service.public_uploads import Busy
from hashwall.service.state import ServiceState
from hashwall.service.takedown import TakedownReceipt, submit_request
from hashwall.service.takedown.config import deadline_config
from hashwall.web.review import csrf, request_form
from hashwall.web.review.access import STALE_FORM, service_state
from hashwall.web.review.auth_routes import set_form_cookie
from hashwall.web.review.bodies import public_form, public_upload_bytes
from hashwall.web.review.pages import PageError, render

router = APIRouter(include_in_schema=False)


def _form_page(
    request: Request,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    settings = service_state(request).settings
    token = csrf.token_for_page(settings.secret_key, request.cookies.get(csrf.COOKIE), time.time())
    context = {
        "title": "Ask us to remove an intimate image",
        "user": None,
        "csrf": token,
        "values": values or request_form.form_values(FormData()),
        "errors": errors or {},
        "jurisdictions": request_form.JURISDICTIONS,
        "statement": GOOD_FAITH_STATEMENT,
        "promise": request_form.promise(deadline_config(settings), datetime.now(UTC)),
    }
    response = render("takedown_form.html", context, status)
    set_form_cookie(response, settings, token)
    return response


@router.get("/takedown")
async def takedown_form(request: Request) -> Response:
    return _form_page(request)


async def _upload(form: FormData, limit: int) -> tuple[bytes | None, str | None, str | None]:
    """The uploaded copy (bytes, name) or an error; an empty file input means no upload."""
    upload = form.get("upload")
    if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
        return None, None, None
    data = await upload.read(limit + 1)
    if len(data) > limit:
        return None, None, f"The file is larger than the {limit // (1024 * 1024)} MB limit."
    return data, upload.filename or None, None


def _submit(
    state: ServiceState, parsed: request_form.ParsedForm, upload: bytes | None, name: str | None
) -> TakedownReceipt | dict[str, str]:
    """The receipt, or ``{field: message}`` for the form (nothing stored in that case)."""
    errors = dict(parsed.errors)
    try:
        if errors:  # our own problems first; the intake still names every other bad field
            validate_request(parsed.request, datetime.now(UTC))
        else:
            return submit_request(state, parsed.request, upload=upload, upload_name=name)
    except IntakeError as error:
        for field, message in request_form.field_errors(error.errors).items():
            errors.setdefault(field, message)
    if "hashes" in errors:  # the hashes were given, just malformed
        errors.pop("content", None)
    return errors


def _busy(busy: Busy) -> str:
    return f"{busy.message[0].upper()}{busy.message[1:]} (in about {busy.retry_after} seconds)."


async def _submit_gated(
    state: ServiceState,
    client: str,
    parsed: request_form.ParsedForm,
    upload: bytes | None,
    name: str | None,
) -> TakedownReceipt | dict[str, str]:
    """:func:`_submit`, holding a public-upload slot while a copy is decoded (the JSON
    intake's gate: docs/security.md)."""
    if upload is None:
        return await run_in_threadpool(_submit, state, parsed, upload, name)
    async with state.public_uploads.slot(client, state.settings.public_upload_wait_seconds):
        return await run_in_threadpool(_submit, state, parsed, upload, name)


def _rate_limited(state: ServiceState, client: str) -> int | None:
    """Seconds to wait when this address sent too many requests (the JSON intake's own
    ``takedown-ip`` counter, so the form is no way around the API's limit)."""
    rule = Rule("takedown-ip", state.settings.takedown_requests_per_ip_hour, 3600, 3600)
    lock = Throttles(state.db, state.settings.secret_key).reserve(rule, client)
    return lock.retry_after if lock is not None else None


@router.post("/takedown")
@public_form(public_upload_bytes)
async def takedown_submit(request: Request) -> Response:
    state = service_state(request)
    # The request guard has checked the CSRF cookie and bounds the body (bodies.py).
    form = await request.form(max_files=1)
    submitted = str(form.get(csrf.FIELD) or "")
    if not csrf.check(
        state.settings.secret_key, request.cookies.get(csrf.COOKIE), submitted, time.time()
    ):
        raise PageError(403, STALE_FORM)
    parsed = request_form.parse(form, datetime.now(UTC))
    client = client_key(request)  # IPv6: the /64
    wait = await run_in_threadpool(_rate_limited, state, client)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        message = f"Too many requests from your network: please try again in {minutes} minutes."
        response = _form_page(request, parsed.values, {"form": message}, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    upload, name, upload_error = await _upload(form, state.settings.public_max_upload_bytes)
    if upload_error:
        parsed.errors["upload"] = upload_error
    try:
        outcome = await _submit_gated(state, client, parsed, upload, name)
    except Busy as busy:
        response = _form_page(request, parsed.values, {"upload": _busy(busy)}, 429)
        response.headers["Retry-After"] = str(busy.retry_after)
        return response
    if isinstance(outcome, dict):
        return _form_page(request, parsed.values, outcome, 422)
    context = {"title": "Request received", "user": None, "receipt": outcome}
    return render("takedown_receipt.html", context)
