"""The application ``hashwall serve`` runs: the service's API plus the web pages.

``hashwall.web`` sits above ``hashwall.service`` (the service never imports it), so the pages
are added here, to an app the service builds exactly as it would without them.
"""

from __future__ import annotations

from fastapi import FastAPI

from hashwall.service.app import create_app as create_service_app
from hashwall.service.settings import Settings
from hashwall.web.notices import router as notices_router
from hashwall.web.review import router as review_router
from hashwall.web.review.pages import install_page_handlers


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service app with the public removal-request form and the reviewer pages."""
    app = create_service_app(settings)
    install_page_handlers(app)
    app.include_router(review_router)
    app.include_router(notices_router)
    return app


def create_app_from_env() -> FastAPI:
    """Uvicorn factory for ``hashwall serve`` (each worker reads ``HASHWALL_*``)."""
    return create_app(Settings())
