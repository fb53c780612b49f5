"""Who is looking at a reviewer page, what they may do, and CSRF checks on their forms.

Permissions are the service's own (``hashwall.service.auth``), so a role means the same on a
page as in the JSON API: ``review`` (reviewer, admin) for queues and decisions,
``banks:write`` (curator, admin) for bank management.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from hashwall.service.auth import Permission, Principal
from hashwall.service.routes.takedown import actor_of
from hashwall.service.state import ServiceState
from hashwall.web.review import session as sessions
from hashwall.web.review.pages import LoginRequired, PageError

#: Permissions that give a key something to do on the reviewer pages.
PAGE_PERMISSIONS = (Permission.REVIEW, Permission.BANKS_WRITE)
STALE_FORM = (
    "This form has expired or did not come from this site. Go back, reload the page and try again."
)


@dataclass(frozen=True)
class Reviewer:
    principal: Principal
    csrf: str

    def can(self, permission: Permission) -> bool:
        return self.principal.can(permission)

    @property
    def actor(self) -> str:
        """How this person appears in the audit log: as over the JSON API (role and key)."""
        return actor_of(self.principal)


def service_state(request: Request) -> ServiceState:
    state = request.app.state.hashwall
    assert isinstance(state, ServiceState)
    return state


def _principal(state: ServiceState, found: sessions.ReviewSession) -> Principal | None:
    """The key behind a live session: ``None`` once logged out or the key is revoked."""
    with state.db.session() as db_session:
        if not sessions.is_live(db_session, found):
            return None
        return sessions.principal_for(db_session, found.key_id)


def current_session(request: Request) -> sessions.ReviewSession | None:
    """The signed, unexpired session the cookie names (not yet checked against the table)."""
    secret = service_state(request).settings.secret_key
    return sessions.read(secret, request.cookies.get(sessions.COOKIE), time.time())


async def current_reviewer(request: Request) -> Reviewer:
    """The signed-in reviewer; :class:`LoginRequired` (a redirect) otherwise."""
    state = service_state(request)
    secret = state.settings.secret_key
    found = current_session(request)
    if found is None:
        raise LoginRequired
    principal = await run_in_threadpool(_principal, state, found)
    if principal is None:
        raise LoginRequired
    reviewer = Reviewer(principal, sessions.csrf_token(secret, found))
    request.state.reviewer = reviewer
    return reviewer


def needs(permission: Permission) -> Callable[[Request], Awaitable[Reviewer]]:
    """A dependency: a signed-in reviewer holding ``permission`` (a 403 page otherwise)."""

    async def check(request: Request) -> Reviewer:
        reviewer = await current_reviewer(request)
        if not reviewer.can(permission):
            role = reviewer.principal.role.value
            raise PageError(403, f"Your role ({role}) may not use this page.")
        return reviewer

    return check


async def checked_form(request: Request, reviewer: Reviewer) -> FormData:
    """The posted form, once its CSRF token is this session's (a 403 page otherwise)."""
    form = await request.form()
    submitted = form.get("csrf")
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted, reviewer.csrf):
        raise PageError(403, STALE_FORM)
    return form
