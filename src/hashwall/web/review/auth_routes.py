"""Log-in, log-out and the reviewer pages' static files.

A reviewer presents an API key once, through a CSRF-protected form; the key is checked with the
service's own ``lookup_key`` and exchanged for a signed session cookie (HttpOnly,
SameSite=Strict, ``Secure`` in production, path ``/review``). Keys whose role has nothing to do
here (hasher, matcher, likeness) are refused at log-in with a clear message.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hashwall.service.auth import Permission, lookup_key
from hashwall.service.settings import Settings
from hashwall.service.state import ServiceState
from hashwall.web.review import csrf
from hashwall.web.review import session as sessions
from hashwall.web.review.access import (
    PAGE_PERMISSIONS,
    STALE_FORM,
    Reviewer,
    checked_form,
    current_reviewer,
    current_session,
    service_state,
)
from hashwall.web.review.bodies import public_small_form, reviewer_form
from hashwall.web.review.pages import HEADERS, PageError, redirect, render

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "static"
#: The only files served under /review/static (nothing else in the folder is reachable).
ASSETS = {"review.css": "text/css; charset=utf-8", "review.js": "text/javascript; charset=utf-8"}


def set_form_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        csrf.COOKIE,
        token,
        max_age=csrf.MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=settings.env == "production",
    )


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    settings = service_state(request).settings
    token = csrf.token_for_page(settings.secret_key, request.cookies.get(csrf.COOKIE), time.time())
    context = {
        "title": "Reviewer log-in",
        "user": None,
        "csrf": token,
        "error": error,
        "hours": sessions.SESSION_SECONDS // 3600,
    }
    response = render("review/login.html", context, status)
    set_form_cookie(response, settings, token)
    return response


@router.get("/review/login")
async def login_page(request: Request) -> Response:
    return _login_page(request)


def _home(reviewer_can_review: bool) -> str:
    return "/review" if reviewer_can_review else "/review/banks"


@router.post("/review/login")
@public_small_form
async def login(request: Request) -> Response:
    state = service_state(request)
    settings = state.settings
    form = await request.form()
    submitted = form.get(csrf.FIELD)
    cookie = request.cookies.get(csrf.COOKIE)
    if not csrf.check(settings.secret_key, cookie, str(submitted or ""), time.time()):
        raise PageError(403, STALE_FORM)
    key = str(form.get("api_key") or "").strip()
    if not key:
        return _login_page(request, "Enter your API key.", 422)
    principal = await run_in_threadpool(
        lookup_key, state.db, settings.secret_key, key, settings.legacy_secret_keys()
    )
    if principal is None:
        return _login_page(request, "This API key is not valid or was revoked.", 401)
    if not any(principal.can(permission) for permission in PAGE_PERMISSIONS):
        message = (
            f"Keys with the {principal.role.value} role have no reviewer pages: use a "
            "reviewer, curator or admin key."
        )
        return _login_page(request, message, 403)
    response = redirect(_home(principal.can(Permission.REVIEW)))
    cookie = await run_in_threadpool(_start_session, state, principal.key_id)
    response.set_cookie(
        sessions.COOKIE,
        cookie,
        max_age=sessions.SESSION_SECONDS,
        path=sessions.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.env == "production",
    )
    return response


def _start_session(state: ServiceState, key_id: int) -> str:
    with state.db.session() as db_session:
        return sessions.start(db_session, state.settings.secret_key, key_id, time.time())


def _end_session(state: ServiceState, found: sessions.ReviewSession) -> None:
    with state.db.session() as db_session:
        sessions.end(db_session, found)


@router.post("/review/logout")
@reviewer_form
async def logout(request: Request) -> Response:
    """End the session on the server (the cookie, and any copy of it, stops working) and
    delete the cookie."""
    reviewer: Reviewer = await current_reviewer(request)
    await checked_form(request, reviewer)
    found = current_session(request)
    if found is not None:
        await run_in_threadpool(_end_session, service_state(request), found)
    response = redirect("/review/login")
    response.delete_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH)
    return response


@router.get("/review/static/{name}")
def review_asset(name: str) -> Response:
    if name not in ASSETS:
        raise PageError(404, "No such file.")
    body = (STATIC / name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={**HEADERS, "Cache-Control": "no-cache"})
