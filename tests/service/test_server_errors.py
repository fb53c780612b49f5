"""Server-side failures answer JSON with a stable code, and committed writes are told as such.

Covers: classification (locked/busy, unreachable PostgreSQL, full disk, anything else), the
answers through the whole app (503 + Retry-After, 507, 500), the boundary that never lets an
exception drop the connection, and the honest answers after a commit (sweep pending, a
withdrawal that stops matching even when the index cannot read the database back).
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hashwall.service import after_commit, server_errors
from hashwall.service.routes import entries as entries_module
from hashwall.service.server_errors import ErrorBoundary, classify
from hashwall.service.settings import Settings
from hashwall.store import create_database
from hashwall.store.catalog_models import SweepJob, SweepStatus
from tests.service.conftest import Api
from tests.service.test_actions import add
from tests.service.test_api_core import PDQ_A
from tests.service.test_workers import wait_for


class _PgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("server said no")
        self.sqlstate = sqlstate


def _wrapped(orig: Exception) -> OperationalError:
    return OperationalError("UPDATE entries SET state=?", {"secret": "pin"}, orig)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (_wrapped(sqlite3.OperationalError("database is locked")), 503, "database_busy"),
        (_wrapped(sqlite3.OperationalError("database or disk is full")), 507, "disk_full"),
        (_wrapped(_PgError("57P01")), 503, "database_unavailable"),  # admin shutdown
        (_wrapped(_PgError("57P03")), 503, "database_unavailable"),  # starting up
        (_wrapped(_PgError("08006")), 503, "database_unavailable"),  # connection failure
        (_wrapped(_PgError("53100")), 507, "disk_full"),
        (_wrapped(_PgError("40P01")), 503, "database_busy"),  # deadlock (after retries)
        (OSError(errno.ENOSPC, "No space left on device"), 507, "disk_full"),
        (RuntimeError("boom"), 500, "internal"),
        (_wrapped(sqlite3.OperationalError("no such table: x")), 500, "internal"),
    ],
)
def test_classify(exc: BaseException, status: int, code: str) -> None:
    error = classify(exc)
    assert (error.status, error.code) == (status, code)
    assert (error.retry_after is not None) == (status == 503)


def test_a_cause_deep_in_the_chain_is_found() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("writing the snapshot failed") from inner
    except RuntimeError as outer:
        assert classify(outer).code == "disk_full"


def _failing_route(api: Api, monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make listing a bank's entries raise ``exc`` inside the route."""

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    monkeypatch.setattr(entries_module, "load_or_404", fail)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (_wrapped(_PgError("57P01")), 503, "database_unavailable"),
        (_wrapped(sqlite3.OperationalError("database or disk is full")), 507, "disk_full"),
        (RuntimeError("boom"), 500, "internal"),
    ],
)
def test_unhandled_errors_are_json(
    api: Api, monkeypatch: pytest.MonkeyPatch, exc: BaseException, status: int, code: str
) -> None:
    bank = api.create_bank()
    _failing_route(api, monkeypatch, exc)
    response = api.call("GET", f"/v1/banks/{bank['id']}/entries")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert "pin" not in response.text and "UPDATE" not in response.text  # no SQL, no values
    assert ("retry-after" in response.headers) == (status == 503)
    monkeypatch.undo()
    assert api.call("GET", f"/v1/banks/{bank['id']}/entries").status_code == 200


def test_handled_errors_carry_a_code(api: Api) -> None:
    missing = api.call("GET", "/v1/entries/999999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    invalid = api.call("POST", "/v1/banks", json={"name": ""})
    assert invalid.status_code == 422
    assert {problem["code"] for problem in invalid.json()["error"]} == {"invalid"}
    anonymous = api.client.get("/v1/banks")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"


def _run_boundary(app: Callable[..., Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    asyncio.run(ErrorBoundary(app)(scope, receive, send))
    return sent


def test_boundary_answers_an_exception_raised_before_any_answer() -> None:
    async def app(_scope: Any, _receive: Any, _send: Any) -> None:
        raise _wrapped(_PgError("57P01"))

    sent = _run_boundary(app)
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"2") in sent[0]["headers"]
    assert b'"code":"database_unavailable"' in sent[1]["body"]


def test_boundary_swallows_an_exception_after_the_answer(caplog: pytest.LogCaptureFixture) -> None:
    """Uvicorn closes the connection when the app raises after answering (taking requests
    queued behind on it); the boundary keeps it by not letting the exception out."""

    async def app(_scope: Any, _receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        raise RuntimeError("after the answer")

    sent = _run_boundary(app)  # does not raise
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert "after the answer" in caplog.text or "began" in caplog.text


def test_a_failed_sweep_is_answered_pending_and_finished_in_the_background(
    api_factory: Callable[[Settings], Api], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = api_factory(settings.model_copy(update={"sweep_retry_seconds": 0.3}))
    bank = api.create_bank()
    real = after_commit.run_job

    def fail(*_args: Any) -> Any:
        raise _wrapped(sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(after_commit, "run_job", fail)
    added = add(api, bank["id"], PDQ_A)
    assert added["sweep"] == "pending"  # committed: 201 (add checks it), never a 5xx
    query = {"queries": [{"signal_type": "pdq", "signal_value": PDQ_A}]}
    assert api.call("POST", "/v1/match/hashes", "matcher", json=query).json()["results"][0][
        "matched"
    ]
    monkeypatch.setattr(after_commit, "run_job", real)
    db = create_database(settings.resolved_database_url())
    try:

        def swept() -> bool:
            with db.session(readonly=True) as session:
                return set(session.scalars(select(SweepJob.status))) == {SweepStatus.DONE}

        wait_for(swept, 10)
    finally:
        db.dispose()


def test_withdrawal_stops_matching_even_when_the_index_cannot_read_back(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = api.create_bank()
    added = add(api, bank["id"], PDQ_A)
    assert added["sweep"] == "done"
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]

    def unreadable(*_args: Any, **_kwargs: Any) -> None:
        raise _wrapped(_PgError("57P01"))

    monkeypatch.setattr(state.index, "sync_entries", unreadable)
    withdrawn = api.call("POST", f"/v1/entries/{added['id']}/withdraw", "curator")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    query = {"queries": [{"signal_type": "pdq", "signal_value": PDQ_A}]}
    answer = api.call("POST", "/v1/match/hashes", "matcher", json=query).json()
    assert not answer["results"][0]["matched"]


def test_server_errors_module_names_every_answer() -> None:
    codes = {e.code for e in (server_errors.UNAVAILABLE, server_errors.BUSY)}
    assert codes == {"database_unavailable", "database_busy"}
    assert server_errors.DISK_FULL.status == 507 and server_errors.INTERNAL.status == 500


def test_a_key_lookup_during_an_outage_is_a_503_not_a_parse_error(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard looks the key up while the body is read; FastAPI turned any error there
    into 400 "error parsing the body"."""
    from hashwall.service import request_guard

    async def unreachable(*_args: Any) -> Any:
        raise _wrapped(_PgError("57P01"))

    bank = api.create_bank()
    monkeypatch.setattr(request_guard, "principal_for", unreachable)
    body = {"hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}]}
    response = api.call("POST", f"/v1/banks/{bank['id']}/entries", "curator", json=body)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "2"


def test_match_records_that_cannot_be_stored_say_why(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A match whose records hit a full disk is refused as 507, not an anonymous 500."""
    from hashwall.service import record_writer

    bank = api.create_bank()
    add(api, bank["id"], PDQ_A)

    def full(*_args: Any, **_kwargs: Any) -> Any:
        raise _wrapped(sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(record_writer._PlainWriter, "transaction", full)  # the loop's path
    monkeypatch.setattr(record_writer, "write_records", full)  # the writer thread's
    query = {"queries": [{"signal_type": "pdq", "signal_value": PDQ_A}]}
    response = api.call("POST", "/v1/match/hashes", "matcher", json=query)
    assert response.status_code == 507, response.text
    assert response.json()["error"]["code"] == "disk_full"
