"""Interactive API docs are off in production (issue 14, item 12).

Why: /docs and /redoc load Swagger UI and ReDoc scripts, unpinned, from a CDN into the origin
that also serves the survivor portal and the reviewer pages; a compromised CDN would run
script there. Production serves them only when ``HASHWALL_API_DOCS=true``."""

from __future__ import annotations

from collections.abc import Callable

from hashwall.service.settings import Settings
from tests.service.conftest import Api


def test_production_serves_no_interactive_docs_but_the_schema(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    production = settings.model_copy(update={"env": "production"})
    api = api_factory(production)
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert api.client.get(path).status_code == 404, path
    schema = api.client.get("/openapi.json")
    assert schema.status_code == 200 and "/v1/match/hashes" in schema.json()["paths"]


def test_a_setting_turns_them_on_and_development_keeps_them(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    assert settings.interactive_docs  # development default
    asked = settings.model_copy(update={"env": "production", "api_docs": True})
    api = api_factory(asked)
    assert api.client.get("/docs").status_code == 200
    assert api.client.get("/redoc").status_code == 200
    off = settings.model_copy(update={"api_docs": False})
    assert not off.interactive_docs
