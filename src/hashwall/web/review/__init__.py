"""Server-rendered pages on top of the service: the public removal-request form
(``/takedown``) and the reviewer pages (``/review``). See docs/reviewer-ui.md."""

from __future__ import annotations

from fastapi import APIRouter

from hashwall.web.review import auth_routes, bank_routes, case_routes, form_routes, match_routes

router = APIRouter(include_in_schema=False)
for _module in (auth_routes, form_routes, case_routes, match_routes, bank_routes):
    router.include_router(_module.router)

__all__ = ["router"]
