"""One JSON error shape for every error: ``{"error": {"field": ..., "message": ..., "code": ...}}``.

Validation errors carry a list of such objects, one per problem. Clients (and the reviewers
reading their logs) can always tell which field was wrong without parsing prose, and branch on
``code`` (stable, one per kind of failure) rather than on the message. Server-side failures
(database unavailable, disk full, anything unexpected) take the same shape: server_errors.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

#: The stable ``code`` of an error answered with this status (when no more precise one is
#: given). Clients branch on these; they never change once published.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    502: "bad_gateway",
    503: "unavailable",
    507: "disk_full",
}


def status_code_name(status: int) -> str:
    return STATUS_CODES.get(status, "client_error" if status < 500 else "server_error")


class ApiError(Exception):
    """Raise from a handler to answer ``status`` with a field-naming JSON error."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers
        self.code = code or status_code_name(status)


class GuardRefusal(StarletteHTTPException):
    """Raised from ``receive`` by the request guard (request_guard.py) instead of a body:
    no key, a bad content type, a body past its limit.

    An HTTPException, so FastAPI's body parsing passes it on unchanged (anything else becomes
    a 400) and the handler below answers it in the route's own format (``respond``: a page
    for the HTML forms; JSON otherwise)."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None,
        headers: dict[str, str] | None = None,
        respond: Any = None,
        code: str | None = None,
    ) -> None:
        super().__init__(status, message, headers)
        self.message = message
        self.field = field
        self.respond = respond
        self.code = code or status_code_name(status)

    def response(self) -> Response:
        headers = dict(self.headers or {})
        if self.respond is not None:
            page: Response = self.respond(self.status_code, self.message, headers)
            return page
        body = error_body(self.field, self.message, self.code)
        return JSONResponse(body, self.status_code, headers=headers)


def too_large_message(limit: int) -> str:
    mib = 1024 * 1024
    readable = f"{limit / mib:.3g} MB" if limit >= mib else f"{limit / 1024:.3g} KB"
    return f"the request body is larger than this route's limit of {readable} ({limit} bytes)"


def printable(value: str, limit: int) -> str:
    """A name taken from client data (file names, record paths) made safe to store and show:
    control characters (PostgreSQL rejects NUL) dropped, length capped."""
    return "".join(c for c in value if ord(c) >= 32)[:limit]


def error_body(field: str | None, message: str, code: str) -> dict[str, Any]:
    return {"error": {"field": field, "message": message, "code": code}}


def validation_body(problems: Sequence[tuple[str | None, str]]) -> dict[str, Any]:
    """The 422 body: one object per problem, each with the ``invalid`` code."""
    return {
        "error": [
            {"field": field, "message": message, "code": STATUS_CODES[422]}
            for field, message in problems
        ]
    }


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


def _validation_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # pydantic prefixes errors raised in validators; the rest of the message is ours.
    return message.removeprefix("Value error, ")


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = error_body(exc.field, exc.message, exc.code)
    return JSONResponse(body, exc.status, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        (_field_path(error.get("loc", ())), _validation_message(error)) for error in exc.errors()
    ]
    return JSONResponse(validation_body(problems), 422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body = error_body(None, str(exc.detail), status_code_name(exc.status_code))
    return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))


async def _guard_refusal(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GuardRefusal)
    return exc.response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GuardRefusal, _guard_refusal)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
