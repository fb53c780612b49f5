"""``/notices``: the survivor's own notice tool, no account. Upload a case file (and its audit
log) or fill in the form; get every host's notices on the page and as files; mark what each
URL's host did; take the updated case file and audit log home. Nothing is stored or logged.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from hashwall.cases.audit import AuditFormatError
from hashwall.cases.casefile import Milestone, mark
from hashwall.cases.notices import render_all
from hashwall.cases.pdf import PdfError
from hashwall.service.client_address import client_key
from hashwall.service.portal import Rule, Throttles
from hashwall.service.settings import Settings
from hashwall.service.state import ServiceState
from hashwall.web.notices import bundle, case_form, views
from hashwall.web.notices.carried import Carried, CarriedError, from_form
from hashwall.web.notices.casetext import CaseText, CaseTextError, file_name, parse_case
from hashwall.web.notices.chain import EMPTY, Chain, ChainError, append, parse_chain
from hashwall.web.review import csrf
from hashwall.web.review.access import STALE_FORM, service_state
from hashwall.web.review.bodies import public_form
from hashwall.web.review.pages import HEADERS, PageError

router = APIRouter(include_in_schema=False)
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "notices.css"
#: Hidden fields carry the audit log base64-encoded: allow it past Starlette's 1 MiB default.
MAX_PART_BYTES = 4 * 1024 * 1024
#: A notices post carries at most a case file, an audit log and both again in hidden fields.
NOTICE_BYTES = 4 * MAX_PART_BYTES


def _notice_bytes(_settings: Settings) -> int:
    return NOTICE_BYTES


DAMAGED = "This page's case data is missing or damaged. Upload your case file again."


async def _checked_form(request: Request) -> FormData:
    """The posted form once its CSRF token matches the cookie (a 403 page otherwise)."""
    form = await request.form(max_part_size=MAX_PART_BYTES)
    secret = service_state(request).settings.secret_key
    submitted = form.get(csrf.FIELD)
    token = submitted if isinstance(submitted, str) else None
    if not csrf.check(secret, request.cookies.get(csrf.COOKIE), token, time.time()):
        raise PageError(403, STALE_FORM)
    client = client_key(request)  # IPv6: the /64
    wait = await run_in_threadpool(_rate_limited, service_state(request), client)
    if wait is not None:
        message = f"Too many requests from your address; please try again in {wait} seconds."
        raise PageError(429, message, {"Retry-After": str(wait)})
    return form


def _rate_limited(state: ServiceState, client: str) -> int | None:
    """Seconds to wait when this address posted too often (a per-address hourly budget
    shared by every worker through the database, like the removal-request form's)."""
    rule = Rule("notices-ip", state.settings.notices_posts_per_ip_hour, 3600, 3600)
    lock = Throttles(state.db, state.settings.secret_key).reserve(rule, client)
    return lock.retry_after if lock is not None else None


def _generated(case: CaseText, chain: Chain) -> Chain:
    """The chain with ``notice.generated``, as ``hashwall notice generate`` records it."""
    notices = render_all(case.case, datetime.now(UTC))
    data = {"notices": [{"host": n.host, "form": n.form.value} for n in notices]}
    return append(chain, datetime.now(UTC), "notice.generated", case.case.case_id, data)


@router.get("/notices")
async def notices_start(request: Request) -> Response:
    return views.start_page(request)


async def _read(form: FormData, field: str, limit: int) -> tuple[bytes, str] | None:
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
        return None
    return await upload.read(limit + 1), upload.filename or ""


@router.post("/notices/upload")
@public_form(_notice_bytes)
async def notices_upload(request: Request) -> Response:
    form = await _checked_form(request)
    case_upload = await _read(form, "case_file", 256 * 1024)
    audit_upload = await _read(form, "audit_file", 2 * 1024 * 1024)
    if case_upload is None:
        return views.start_page(request, errors={"case_file": "Choose your case file."}, status=422)
    try:
        case = parse_case(*case_upload)
    except CaseTextError as error:
        message = "This case file cannot be used. Fix it (or use the form) and upload it again:"
        return views.start_page(request, None, {"case_file": message}, error.problems, 422)
    problems = bundle.case_problems(case.case)
    try:
        chain = parse_chain(audit_upload[0]) if audit_upload else EMPTY
        chain = await run_in_threadpool(_generated, case, chain) if not problems else chain
    except (ChainError, AuditFormatError) as error:
        return views.start_page(request, None, {"audit_file": str(error)}, None, 422)
    if problems:
        message = "No notices can be written for some hosts:"
        return views.start_page(request, None, {"case_file": message}, problems, 422)
    origin = "uploaded" if audit_upload else "new"
    return views.result_page(request, Carried(case, chain, origin), _UPLOADED)


_UPLOADED = "Your case file was read. Nothing you uploaded is kept on this server."
_WRITTEN = (
    "Your notices are ready. Download your case file now: this server keeps nothing, and you "
    "need the file to track the notices next time."
)


@router.post("/notices/form")
@public_form(_notice_bytes)
async def notices_form(request: Request) -> Response:
    form = await _checked_form(request)
    today = datetime.now(UTC).date()
    if form.get("action") == "add_host":
        values = case_form.form_values(form)
        if len(values["hosts"]) < case_form.MAX_HOSTS:
            values["hosts"].append(case_form.empty_values()["hosts"][0])
        return views.start_page(request, values)
    parsed = case_form.parse(form, today)
    errors = dict(parsed.errors)
    if parsed.case is not None:
        for index, problem in bundle.host_problems(parsed.case).items():
            errors.setdefault(f"hosts-{parsed.host_fields[index]}-forms", problem + ".")
    if parsed.case is None or errors:
        return views.start_page(request, parsed.values, errors, None, 422)
    case = CaseText(parsed.case, file_name(None, parsed.case.case_id))
    chain = await run_in_threadpool(_generated, case, EMPTY)
    return views.result_page(request, Carried(case, chain, "new"), _WRITTEN)


def _carried(form: FormData) -> Carried:
    try:
        return from_form(form)
    except CarriedError:
        raise PageError(400, DAMAGED) from None


def _mark_target(form: FormData, carried: Carried) -> tuple[str, str, Milestone]:
    """``(field key, URL, milestone)`` from a button value like ``0-1:sent``."""
    key, _, milestone = str(form.get("mark") or "").partition(":")
    host, _, url = key.partition("-")
    hosts = carried.case.case.hosts
    try:
        record = hosts[int(host)].urls[int(url)]
        return key, record.url, Milestone(milestone)
    except (ValueError, IndexError):
        raise PageError(400, DAMAGED) from None


def _parse_date(text: str, today: date) -> date | str:
    """The date, or the message for the field (a day ahead is allowed for time zones)."""
    try:
        when = date.fromisoformat(text.strip())
    except ValueError:
        return "Use a date like 2026-05-19."
    if when > today + timedelta(days=1):
        return "The date cannot be in the future."
    return when


@router.post("/notices/mark")
@public_form(_notice_bytes)
async def notices_mark(request: Request) -> Response:
    form = await _checked_form(request)
    carried = _carried(form)
    key, url, milestone = _mark_target(form, carried)
    now = datetime.now(UTC)
    when = _parse_date(str(form.get(f"date-{key}") or ""), now.date())
    if isinstance(when, str):
        return views.result_page(request, carried, errors={f"date-{key}": when}, status=422)
    case = carried.case.case.model_copy(deep=True)
    mark(case, url, milestone, when)
    data = {"url": url, "date": when.isoformat()}
    try:
        chain = append(carried.chain, now, f"notice.{milestone.value}", case.case_id, data)
    except (ChainError, AuditFormatError) as error:
        return views.result_page(request, carried, errors={"audit": str(error)}, status=422)
    updated = Carried(CaseText(case, carried.case.name), chain, carried.origin)
    message = (
        f"Recorded: {milestone.value} on {when.isoformat()} for {url}. Download the updated "
        "case file and audit log below to keep this."
    )
    return views.result_page(request, updated, message)


@router.post("/notices/download")
@public_form(_notice_bytes)
async def notices_download(request: Request) -> Response:
    form = await _checked_form(request)
    carried = _carried(form)
    name = str(form.get("file") or "")
    try:
        response = await run_in_threadpool(views.download, carried, name)
    except PdfError as error:
        return views.result_page(request, carried, errors={"download": str(error)}, status=422)
    if response is None:
        raise PageError(404, "No such file for this case.")
    return response


@router.get("/notices/static/notices.css")
def notices_stylesheet() -> Response:
    body = STYLESHEET.read_bytes()
    headers = {**HEADERS, "Cache-Control": "no-cache"}
    return Response(body, media_type="text/css; charset=utf-8", headers=headers)
