"""The FastAPI application factory.

``create_app(settings)`` builds one worker: it migrates the database (when asked), loads the
live index, starts the change-log tailer, and serves the v1 routes. ``hashwall serve`` runs
:func:`create_app_from_env` in each uvicorn worker; settings reach the workers through the
``HASHWALL_*`` environment.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from hashwall import __version__
from hashwall.service import access_log, server_errors
from hashwall.service.actions.background import Background
from hashwall.service.errors import install_error_handlers
from hashwall.service.fast_match import PATH as FAST_PATH
from hashwall.service.fast_match import FastMatchPath
from hashwall.service.likeness import routes as likeness_routes
from hashwall.service.request_guard import RequestGuard
from hashwall.service.routes import (
    banks,
    catalog,
    entries,
    imports,
    match,
    quarantine,
    reviews,
    system,
    webhooks,
)
from hashwall.service.routes import portal as portal_routes
from hashwall.service.server_errors import ErrorBoundary
from hashwall.service.settings import Settings
from hashwall.service.state import ServiceState

_DESCRIPTION = """Match photos and videos against banks of known non-consensual intimate imagery.

Every endpoint except `/v1/health` and `/v1/ready` needs an API key (`X-API-Key: hw_...` or
`Authorization: Bearer hw_...`); create one with `hashwall keys create --role ROLE`.
Errors are JSON: `{"error": {"field": ..., "message": ..., "code": ...}}` (a list for validation
errors); `code` is stable (e.g. `not_found`, `database_unavailable`, `disk_full`).
"""


class ServiceApp(FastAPI):
    """FastAPI, with the hot path of ``POST /v1/match/hashes`` taken before its stack.

    Why: the fast path (fast_match.py) used to be a middleware, under FastAPI's telemetry,
    body-limit and error layers and Starlette's own, each an ASGI hop per request. It reads
    the small body itself and hands anything it does not answer to the whole stack,
    unchanged (the regular route then enforces the limits and reports errors as before).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_match = FastMatchPath(partial(FastAPI.__call__, self))
        self.boundary = ErrorBoundary(self._dispatch)  # nothing escapes as a dropped connection
        server_errors.install(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.boundary(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == FAST_PATH and scope["method"] == "POST":
            scope["app"] = self
            await self.fast_match(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServiceState.open(settings)
        # The index holds millions of long-lived objects; a full garbage collection walking
        # them all stalled requests for tens of ms (p99). They are never garbage: freeze them.
        gc.freeze()
        state.tailer.start()
        state.records.start()  # match-record writer (record_writer.py)
        background = Background(state)  # webhook sender, unfinished sweeps
        background.start()
        app.state.hashwall = state
        try:
            yield
        finally:
            background.stop()
            state.close()
            gc.unfreeze()  # a closed app's objects may be collected again

    telemetry = settings.opentelemetry
    app = ServiceApp(
        telemetry={"tracing": telemetry, "metrics": telemetry, "logs": telemetry},
        title="hashwall",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        # Swagger UI and ReDoc come from a CDN: off in production unless asked for (settings).
        docs_url="/docs" if settings.interactive_docs else None,
        redoc_url="/redoc" if settings.interactive_docs else None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    access_log.install()  # no client addresses logged for /portal, /takedown, /notices
    for module in (system, banks, entries, imports, match):
        app.include_router(module.router)
    app.include_router(portal_routes.router)  # survivor portal: /portal, /v1/portal
    for module in (catalog, reviews, webhooks, quarantine):  # catalog, sweep, actions
        app.include_router(module.router)
    app.include_router(likeness_routes.router)  # likeness protection (docs/likeness.md)
    from hashwall.service.routes import exchange  # pytx files, StopNCII, bundles

    app.include_router(exchange.router)
    from hashwall.service.routes import takedown  # removal requests (docs/takedown.md)

    app.include_router(takedown.router)
    # Body limits, key before body, content types: docs/security.md.
    app.add_middleware(RequestGuard, settings=settings)
    return app


def create_app_from_env() -> FastAPI:
    """Uvicorn factory for ``hashwall serve`` (each worker reads ``HASHWALL_*``)."""
    return create_app(Settings())
