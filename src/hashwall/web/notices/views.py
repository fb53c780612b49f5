"""The two pages of the notice tool and its downloads, all ``no-store`` with the site's CSP.

Every page that shows a form also sets the form CSRF cookie (the same signed double-submit
token as ``/takedown``), so each next POST can be checked.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from hashwall.cases.notices import guidance, under_18_guidance
from hashwall.cli.notice_cmd import DISCLAIMER
from hashwall.web.notices import bundle, case_form
from hashwall.web.notices.carried import Carried
from hashwall.web.review import csrf
from hashwall.web.review.access import service_state
from hashwall.web.review.auth_routes import set_form_cookie
from hashwall.web.review.pages import HEADERS, render

MILESTONES = ("sent", "acknowledged", "removed")


def _page(request: Request, template: str, context: dict[str, Any], status: int) -> Response:
    settings = service_state(request).settings
    cookie = request.cookies.get(csrf.COOKIE)
    token = csrf.token_for_page(settings.secret_key, cookie, time.time())
    response = render(f"notices/{template}", {"user": None, "csrf": token, **context}, status)
    set_form_cookie(response, settings, token)
    return response


def start_page(
    request: Request,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    """The upload box and the case form; ``problems`` lists an uploaded file's faults."""
    context = {
        "title": "Write removal notices",
        "values": values or case_form.empty_values(),
        "errors": errors or {},
        "problems": problems or [],
        "jurisdictions": case_form.JURISDICTIONS,
        "form_names": case_form.FORM_NAMES,
        "disclaimer": DISCLAIMER,
    }
    return _page(request, "start.html", context, status)


def result_page(
    request: Request,
    carried: Carried,
    message: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The notices per host, the tracking table and the files to keep."""
    now = datetime.now(UTC)
    case = carried.case.case
    groups, case_notices = bundle.by_host(case, now)
    every = [n for g in groups for n in g.notices] + case_notices
    context = {
        "title": f"Notices for {case.case_id}",
        "case": case,
        "case_name": carried.case.name,
        "audit_name": carried.case.audit_name,
        "groups": groups,
        "carried": carried.fields(),
        "origin": carried.origin,
        "verification": carried.chain.verification,
        "form_names": case_form.FORM_NAMES,
        "milestones": MILESTONES,
        "today": now.date().isoformat(),
        "message": message,
        "errors": errors or {},
        "disclaimer": DISCLAIMER,
        "case_notices": case_notices,
        "under_18": under_18_guidance(case),
        "guidance": guidance(case, every),
        "zip_name": bundle.ZIP_NAME,
    }
    return _page(request, "result.html", context, status)


def attachment(content: bytes, name: str, media_type: str) -> Response:
    """A download: ``no-store`` like the pages, as it holds the survivor's details."""
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, media_type=media_type, headers=headers)


def download(carried: Carried, name: str) -> Response | None:
    """The file called ``name`` (a notice, the zip, the case file or the audit log), or None.

    Raises ``PdfError`` when a PDF cannot be set in any available font."""
    case, now = carried.case, datetime.now(UTC)
    if name == case.name:
        media = "application/json" if case.is_json else "application/yaml"
        return attachment(case.dump().encode("utf-8"), name, f"{media}; charset=utf-8")
    if name == case.audit_name:
        return attachment(carried.chain.text.encode("utf-8"), name, "application/jsonl")
    if name == bundle.ZIP_NAME:
        return attachment(bundle.zip_all(case.case, now), name, bundle.MEDIA_TYPES["zip"])
    found = bundle.find(case.case, now, name)
    if found is None:
        return None
    notice, extension = found
    content = bundle.notice_file(notice, case.case, now, extension)
    return attachment(content, name, bundle.MEDIA_TYPES[extension])
