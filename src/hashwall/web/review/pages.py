"""Rendering: one Jinja2 environment, strict security headers, HTML error pages.

Templates autoescape everything and fail loudly on an undefined name (``StrictUndefined``), so
a renamed field breaks a test instead of silently showing an empty cell. Every page is
``no-store``: case details and review queues must not linger in shared browser caches. The CSP
matches the survivor portal's, except that images may come from the platform's own https
thumbnail URLs (loaded by the reviewer's browser; the server never fetches media).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from hashwall.service.routes.portal import SECURITY_HEADERS
from hashwall.service.urls import is_web_url

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": CSP, "Cache-Control": "no-store"}


class PageError(Exception):
    """Raise from a page handler to answer an HTML error page with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class LoginRequired(Exception):
    """No valid reviewer session: the handler answers a redirect to the login page."""


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(value: timedelta) -> str:
    """``3h 20m left`` or ``1h 5m overdue``: what a reviewer needs at a glance."""
    seconds = int(value.total_seconds())
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    text = f"{rest // 60}h {rest % 60:02d}m"
    if days:
        text = f"{days}d {text}"
    return f"{text} overdue" if seconds < 0 else f"{text} left"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["duration"] = _duration
    # Only http(s) URLs become links; anything else is shown as text (hashwall.service.urls).
    env.tests["web_url"] = is_web_url
    return env


ENV = _environment()


def render(name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """The template as a no-store HTML page with the security headers."""
    page = ENV.get_template(name).render(**context)
    return HTMLResponse(page, status, headers=HEADERS)


def error_page(status: int, message: str, user: Any = None) -> HTMLResponse:
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict"}
    context = {"title": titles.get(status, "Error"), "message": message, "user": user}
    return render("error.html", context, status)


def redirect(url: str) -> Response:
    """A 303 (after a POST the browser GETs the target), with the same headers."""
    return RedirectResponse(url, 303, headers=HEADERS)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    page = error_page(exc.status, exc.message, getattr(request.state, "reviewer", None))
    page.headers.update(exc.headers)
    return page


async def _login_required(_request: Request, _exc: Exception) -> Response:
    return redirect("/review/login")


def install_page_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(LoginRequired, _login_required)
