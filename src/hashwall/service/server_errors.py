"""Failures that are not the client's fault, answered in the same JSON shape as every error.

Why a module of its own: before it, a locked SQLite database, a full disk or a restarting
PostgreSQL reached the client as ``text/plain`` "Internal Server Error" (a bare 500 for a full
disk), and after the unhandled exception uvicorn dropped the keep-alive connection, taking
unrelated requests queued on it with it. Now:

- a database that is restarting or unreachable: **503** ``database_unavailable`` with
  ``Retry-After`` (the pool reconnects by itself once it is back);
- a database still busy after the busy timeout (or a PostgreSQL deadlock/serialisation
  failure): **503** ``database_busy`` with ``Retry-After``;
- a full disk (SQLite, PostgreSQL or a file we write): **507** ``disk_full``;
- anything else: **500** ``internal``, logged with its traceback (statement parameters are
  never in it: engines are created with ``hide_parameters``).

:class:`ErrorBoundary` wraps the whole application, the fast match path included: an
exception that escapes becomes one of these answers, or, when the answer had already
started, is logged and swallowed, so the server never closes the connection because of it.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.types import Message, Receive, Scope, Send

from hashwall.service.errors import error_body

log = logging.getLogger("hashwall.service.errors")

#: Below this much free space an I/O error writing the database is taken for a full disk
#: (SQLite sometimes reports a full disk as "disk I/O error" while growing its WAL).
_NEARLY_FULL_BYTES = 16 * 1024 * 1024
#: PostgreSQL SQLSTATEs: the server is shutting down, starting or crashed (class 57P),
#: connections failed (class 08), and transaction conflicts worth a retry (class 40).
_UNAVAILABLE_STATES = ("08", "57P", "53300")
_BUSY_STATES = ("40001", "40P01", "55P03")
_DISK_FULL_STATE = "53100"
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_SQLITE_FULL = "database or disk is full"


@dataclass(frozen=True)
class ServerError:
    """How to answer a server-side failure."""

    status: int
    code: str
    message: str
    retry_after: int | None = None

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return JSONResponse(error_body(None, self.message, self.code), self.status, headers)


UNAVAILABLE = ServerError(
    503,
    "database_unavailable",
    "the database is not reachable right now (restarting?); this request did not complete: "
    "retry shortly",
    retry_after=2,
)
BUSY = ServerError(
    503,
    "database_busy",
    "the database stayed busy with other writes for too long; this request did not "
    "complete: retry shortly",
    retry_after=1,
)
DISK_FULL = ServerError(
    507,
    "disk_full",
    "the server has run out of storage; this request did not complete. Nothing was lost: "
    "retry once the operator has freed space",
)
INTERNAL = ServerError(
    500, "internal", "an unexpected error occurred on the server; it has been logged"
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the driver's own error inside SQLAlchemy's, and their causes."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        driver = orig if isinstance(orig, BaseException) else None
        pending.extend((driver, current.__cause__, current.__context__))


def _nearly_full(data_dir: Path | None) -> bool:
    if data_dir is None:
        return False
    try:
        return shutil.disk_usage(data_dir).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def _classify_one(exc: BaseException, data_dir: Path | None) -> ServerError | None:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        if _SQLITE_FULL in text:
            return DISK_FULL
        if any(busy in text for busy in _SQLITE_BUSY):
            return BUSY
        if "disk i/o error" in text:
            return DISK_FULL if _nearly_full(data_dir) else UNAVAILABLE
        return None
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str):
        if state == _DISK_FULL_STATE:
            return DISK_FULL
        if state.startswith(_UNAVAILABLE_STATES):
            return UNAVAILABLE
        if state.startswith(_BUSY_STATES):
            return BUSY
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return UNAVAILABLE
    module = type(exc).__module__
    if module.startswith("psycopg") and type(exc).__name__ in (
        "OperationalError",
        "InterfaceError",
    ):
        return UNAVAILABLE  # no SQLSTATE: the connection itself failed or was refused
    return None


def classify(exc: BaseException, data_dir: Path | None = None) -> ServerError:
    """The answer for an exception no handler turned into a response."""
    for link in _chain(exc):
        found = _classify_one(link, data_dir)
        if found is not None:
            return found
    return INTERNAL


def _data_dir(app: object) -> Path | None:
    state = getattr(getattr(app, "state", None), "hashwall", None)
    settings = getattr(state, "settings", None)
    data_dir = getattr(settings, "data_dir", None)
    return data_dir if isinstance(data_dir, Path) else None


def _log(error: ServerError, exc: BaseException, scope: Scope) -> None:
    where = f"{scope.get('method', '')} {scope.get('path', '')}"
    if error is INTERNAL:
        log.error("unhandled error in %s", where, exc_info=exc)
    else:  # expected operational trouble: one line, no traceback flood during an outage
        log.warning("%s answered %d %s: %s", where, error.status, error.code, type(exc).__name__)


async def server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's handler for any exception: Starlette answers with it, then re-raises
    (for :class:`ErrorBoundary`, which sees the answer started and only swallows it)."""
    error = classify(exc, _data_dir(request.app))
    _log(error, exc, request.scope)
    exc.hashwall_answered = True  # type: ignore[attr-defined]
    return error.response()


class ErrorBoundary:
    """Outermost ASGI layer: no exception leaves the application (see the module doc)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # the connection is kept either way
                if not getattr(exc, "hashwall_answered", False):  # else logged by the handler
                    log.error("error after the answer to %s began", scope.get("path"), exc_info=exc)
                return
            error = classify(exc, _data_dir(scope.get("app")))
            _log(error, exc, scope)
            await error.response()(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the JSON answer for unhandled exceptions on ``app``."""
    app.add_exception_handler(Exception, server_error_handler)
