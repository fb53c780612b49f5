"""One JSON error shape for every 4xx: ``{"error": {"field": ..., "message": ...}}``.

Validation errors carry a list of such objects, one per problem. Clients (and the reviewers
reading their logs) can always tell which field was wrong without parsing prose.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """Raise from a handler to answer ``status`` with a field-naming JSON error."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers


def printable(value: str, limit: int) -> str:
    """A name taken from client data (file names, record paths) made safe to store and show:
    control characters (PostgreSQL rejects NUL) dropped, length capped."""
    return "".join(c for c in value if ord(c) >= 32)[:limit]


def error_body(field: str | None, message: str) -> dict[str, Any]:
    return {"error": {"field": field, "message": message}}


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # pydantic prefixes errors raised in validators; the rest of the message is ours.
    return message.removeprefix("Value error, ")


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.field, exc.message), exc.status, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _field_path(error.get("loc", ())), "message": _validation_message(error)}
        for error in exc.errors()
    ]
    return JSONResponse({"error": problems}, 422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        error_body(None, str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None)
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
