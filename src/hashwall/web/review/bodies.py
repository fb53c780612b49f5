"""Body rules of the HTML forms (see ``hashwall.service.body_rules``): their limits, their
CSRF cookie checked before the body is read, and refusals as a readable page, not JSON.

Why: the public forms used to read (and spool to disk) the whole body before the CSRF check
refused it; now a post without this site's fresh form cookie is a 403 page at once, and a
body past the form's limit stops being read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hashwall.service.body_rules import FRAMING_ALLOWANCE, accepts
from hashwall.service.settings import Settings
from hashwall.web.review import csrf
from hashwall.web.review.access import STALE_FORM
from hashwall.web.review.pages import error_page

#: Reviewer forms (decisions, notes, bank settings) and the login form: text fields only.
FORM_BYTES = 64 * 1024

_TOO_LARGE = (
    "What you sent is larger than this form accepts ({detail}). Go back and choose a smaller "
    "file, or leave the file out and give the address where the picture or video is posted."
)


def page_refusal(status: int, message: str, headers: dict[str, str]) -> Response:
    """A refusal of the request guard as an error page."""
    if status == 413:
        message = _TOO_LARGE.format(detail=message)
    elif status == 415:
        message = f"This form was sent in a way this site does not read: {message}."
    page = error_page(status, message)
    page.headers.update(headers)
    return page


def fresh_form_cookie(request: Request, settings: Settings) -> str | None:
    """The CSRF cookie must be there and fresh before the form is read (the hidden field is
    compared with it afterwards, as before)."""
    if csrf.is_fresh(settings.secret_key, request.cookies.get(csrf.COOKIE), time.time()):
        return None
    return STALE_FORM


def _form_bytes(_settings: Settings) -> int:
    return FORM_BYTES


def public_upload_bytes(settings: Settings) -> int:
    return settings.public_max_upload_bytes + FRAMING_ALLOWANCE


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: A reviewer form (the session is checked by the route's dependency, before the body).
reviewer_form: Decorator = accepts("form", _form_bytes, respond=page_refusal)
#: A public form of text fields with a CSRF cookie (the reviewer login).
public_small_form: Decorator = accepts(
    "form", _form_bytes, precheck=fresh_form_cookie, respond=page_refusal
)


def public_form(limit: Callable[[Settings], int]) -> Decorator:
    """A public form with a CSRF cookie, up to ``limit`` bytes (uploads included)."""
    return accepts("form", limit, precheck=fresh_form_cookie, respond=page_refusal)
