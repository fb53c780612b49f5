"""Crash safety, escalation and webhook retries of removal requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hashwall.cases.audit_db import AuditLogRow
from hashwall.service.actions.webhooks import sign
from hashwall.service.settings import Settings
from hashwall.service.state import ServiceState
from hashwall.service.takedown import (
    decide,
    get_request,
    receive_request,
    run_pending_takedowns,
    submit_request,
    use_clock,
)
from hashwall.service.takedown.delivery import (
    fire_escalations,
    send_due_escalations,
    send_due_tasks,
)
from tests.service.conftest import Api
from tests.service.takedown_helpers import (
    FakeClock,
    add_catalog_upload,
    flip,
    jpeg_bytes,
    png_bytes,
    raw_request,
    service_state,
)
from tests.service.test_end_to_end import SECRET, Server, make_key
from tests.service.test_workers import wait_for

HOOK_SECRET = "escalation-secret-0123456789"


def actions(state: ServiceState, case_id: str) -> list[str]:
    with state.db.session() as session:
        return list(
            session.scalars(
                select(AuditLogRow.action)
                .where(AuditLogRow.case_id == case_id)
                .order_by(AuditLogRow.seq)
            )
        )


def test_a_committed_case_is_swept_by_the_resume_path_once(api: Api) -> None:
    add_catalog_upload(api, "copy", jpeg_bytes(21, 50))
    state = service_state(api)
    receipt, _job = receive_request(state, raw_request(), upload=png_bytes(21))
    assert get_request(state, receipt.case_id, actor="t").tasks == []  # as a crash leaves it
    assert run_pending_takedowns(state) == 1
    assert run_pending_takedowns(state) == 0
    tasks = get_request(state, receipt.case_id, actor="t").tasks
    assert [t.content_id for t in tasks] == ["copy"]
    assert actions(state, receipt.case_id).count("task.created") == 1


def test_sigkilled_server_resumes_the_sweep_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    reviewer = make_key("reviewer", data_dir)
    hasher = make_key("hasher", data_dir)
    server = Server(data_dir)
    server.start()
    try:
        client = httpx.Client(base_url=server.url, timeout=60)
        for name, data in (("a", jpeg_bytes(31, 60)), ("b", jpeg_bytes(31, 80, flip))):
            response = client.post(
                "/v1/catalog/items/upload",
                files={"file": (f"{name}.jpg", data)},
                data={"content_id": name},
                headers=hasher,
            )
            assert response.status_code == 201, response.text
        # Intake commits (case, entries, pending jobs) and the server dies before sweeping.
        settings = Settings(data_dir=data_dir, secret_key=SECRET, takedown_poll_seconds=3600)
        state = ServiceState.open(settings)
        try:
            receipt, _job = receive_request(state, raw_request(), upload=png_bytes(31))
        finally:
            state.close()
        server.kill()
        server.start()

        def tasks() -> int:
            case = client.get(f"/v1/takedown/requests/{receipt.case_id}", headers=reviewer)
            assert case.status_code == 200, case.text
            return int(case.json()["tasks_total"])

        wait_for(lambda: tasks() == 2, 20.0)
    finally:
        server.stop()


class _Platform:
    """A local webhook receiver answering ``status`` to every call."""

    def __init__(self, status: int) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                platform.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def quiet_settings(settings: Settings) -> Iterator[Callable[[int], tuple[Settings, _Platform]]]:
    """Settings whose background loop stays asleep, pointed at a platform answering STATUS."""
    platforms: list[_Platform] = []

    def build(status: int) -> tuple[Settings, _Platform]:
        platform = _Platform(status)
        platforms.append(platform)
        update = {
            "takedown_webhook_url": platform.url,
            "takedown_webhook_secret": HOOK_SECRET,
            "takedown_poll_seconds": 3600,
            "webhook_poll_seconds": 60,
            "webhook_max_attempts": 2,
        }
        return settings.model_copy(update=update), platform

    yield build
    for platform in platforms:
        platform.close()


def test_escalation_fires_once_before_the_deadline(
    api_factory: Callable[[Settings], Api],
    quiet_settings: Callable[[int], tuple[Settings, _Platform]],
) -> None:
    settings, platform = quiet_settings(200)
    state = service_state(api_factory(settings))
    clock = FakeClock()
    use_clock(state, clock)
    receipt = submit_request(
        state, raw_request(hashes=[{"signal_type": "md5", "signal_value": "a" * 32}])
    )
    assert fire_escalations(state) == 0
    # All four regimes by default: a 24 h internal target is the soonest; 6 h escalation lead.
    clock.advance(timedelta(hours=17, minutes=59))
    assert fire_escalations(state) == 0
    clock.advance(timedelta(minutes=2))
    fire_escalations(state)
    fire_escalations(state)
    send_due_escalations(state)
    assert actions(state, receipt.case_id).count("case.escalated") == 1
    assert actions(state, receipt.case_id).count("escalation.sent") == 1
    assert len(platform.calls) == 1
    headers, body = platform.calls[0]
    assert headers["x-hashwall-signature"] == sign(HOOK_SECRET, body)
    assert json.loads(body)["case_id"] == receipt.case_id
    assert json.loads(body)["seconds_left"] == 5 * 3600 + 59 * 60
    assert get_request(state, receipt.case_id, actor="t").escalated_at == clock.now()


def test_failed_takedown_calls_are_retried_then_marked_failed(
    api_factory: Callable[[Settings], Api],
    quiet_settings: Callable[[int], tuple[Settings, _Platform]],
) -> None:
    settings, platform = quiet_settings(503)
    api = api_factory(settings)
    state = service_state(api)
    add_catalog_upload(api, "copy", jpeg_bytes(41, 60))
    clock = FakeClock()
    use_clock(state, clock)
    receipt = submit_request(state, raw_request(), upload=png_bytes(41))
    decide(state, receipt.case_id, "start_review", actor="r")
    decide(state, receipt.case_id, "action", actor="r")  # wakes this worker's sender
    send_due_tasks(state)  # whichever of the two claims the call sends it, once

    def first_task() -> Any:
        return get_request(state, receipt.case_id, actor="t").tasks[0]

    wait_for(lambda: first_task().attempts == 1, 10.0)
    task = first_task()
    assert (task.status, task.last_error) == ("pending", "HTTP 503")
    assert send_due_tasks(state) == 0  # backing off
    clock.advance(timedelta(seconds=settings.webhook_backoff_seconds + 1))
    send_due_tasks(state)  # the worker's own thread may have claimed the retry first:
    wait_for(lambda: first_task().status == "failed", 10.0)  # wait for whichever sends it
    task = first_task()
    assert (task.status, task.attempts) == ("failed", 2)
    assert {h["x-hashwall-delivery"] for h, _ in platform.calls} == {f"takedown-task-{task.id}"}
    found = actions(state, receipt.case_id)
    assert "task.delivery_failed" in found and "task.failed" in found
