"""Issue 5's end-to-end test of the platform side, through the HTTP API.

One picture is reported; two re-encoded copies and one mirrored copy of it are in the
catalog (plus an unrelated item). Within one second of the request there are three removal
tasks; once a reviewer actions the case, a local HTTP server receives three validly signed
takedown calls; the platform confirms each; the case is notified and closed inside its
deadline; the audit chain verifies; editing one audit row makes verification fail, naming it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import update

from hashwall.cases.audit import check
from hashwall.cases.audit_db import AuditLogRow, SqlAuditStore
from hashwall.service.actions.webhooks import sign
from hashwall.service.settings import Settings
from tests.service.conftest import Api
from tests.service.takedown_helpers import (
    add_catalog_upload,
    flip,
    jpeg_bytes,
    png_bytes,
    raw_request,
    service_state,
)
from tests.service.test_workers import wait_for

WEBHOOK_SECRET = "platform-takedown-secret-0123"


@dataclass
class Received:
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def platform() -> Iterator[tuple[str, Received]]:
    """A local HTTP server standing in for the platform's takedown webhook."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with received.lock:
                received.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/takedown", received
    server.shutdown()
    server.server_close()


def _submit(api: Api, original: bytes) -> dict[str, Any]:
    response = api.client.post(
        "/v1/takedown/requests",
        data={"request": json.dumps(raw_request(description="A private photo of me."))},
        files={"file": ("me.png", original, "image/png")},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _event(api: Api, case_id: str, event: str, **body: Any) -> dict[str, Any]:
    response = api.call(
        "POST", f"/v1/takedown/requests/{case_id}/events", "reviewer", json={"event": event, **body}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _valid_calls(received: Received) -> list[dict[str, Any]]:
    with received.lock:
        calls = list(received.calls)
    valid = []
    for headers, body in calls:
        assert headers["x-hashwall-signature"] == sign(WEBHOOK_SECRET, body)
        assert headers["x-hashwall-event"] == "takedown.task"
        payload = json.loads(body)
        assert headers["x-hashwall-delivery"] == f"takedown-task-{payload['task_id']}"
        valid.append(payload)
    return valid


def test_request_to_closed_case_with_signed_calls_and_a_verified_audit_chain(
    api_factory: Callable[[Settings], Api],
    settings: Settings,
    platform: tuple[str, Received],
) -> None:
    url, received = platform
    api = api_factory(
        settings.model_copy(
            update={
                "takedown_webhook_url": url,
                "takedown_webhook_secret": WEBHOOK_SECRET,
                "webhook_poll_seconds": 0.1,
            }
        )
    )
    copies = {
        "reencoded-q70": jpeg_bytes(11, 70),
        "reencoded-q40": jpeg_bytes(11, 40),
        "mirrored": jpeg_bytes(11, 85, flip),
        "unrelated": jpeg_bytes(12, 80),
    }
    for content_id, data in copies.items():
        add_catalog_upload(api, content_id, data)

    started = time.monotonic()
    receipt = _submit(api, png_bytes(11))
    elapsed = time.monotonic() - started
    assert "tasks_created" not in receipt and elapsed < 1.0, (receipt, elapsed)
    case_id = receipt["case_id"]

    case = api.call("GET", f"/v1/takedown/requests/{case_id}", "reviewer").json()
    assert len(case["tasks"]) == 3  # the sweep ran before the answer
    assert sorted(t["content_id"] for t in case["tasks"]) == [
        "mirrored",
        "reencoded-q40",
        "reencoded-q70",
    ]
    time.sleep(0.3)
    assert received.calls == []  # nothing goes to the platform before a reviewer decides
    blocked = api.call(
        "POST", "/v1/match/upload", "matcher", files={"files": ("x.jpg", copies["mirrored"])}
    )
    # Re-uploads are caught at once; a public bank's match asks for review, not automation.
    assert blocked.json()["results"][0]["needs_review"]

    _event(api, case_id, "start_review")
    _event(api, case_id, "action")
    wait_for(lambda: len(_valid_calls(received)) >= 3, 10.0)
    calls = _valid_calls(received)
    assert sorted(c["content_id"] for c in calls) == sorted(t["content_id"] for t in case["tasks"])
    assert {c["case_id"] for c in calls} == {case_id}

    for task in case["tasks"]:
        confirmed = api.call("POST", f"/v1/takedown/tasks/{task['id']}/confirm", "curator")
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "confirmed"
    _event(api, case_id, "notify")
    closed = _event(api, case_id, "close")
    assert closed["state"] == "closed" and closed["deadline_state"] == "met"
    assert closed["tasks_confirmed"] == 3

    state = service_state(api)
    store = SqlAuditStore(state.db.sessions)
    intact = check(store)
    assert intact.intact, intact.problem
    actions = [entry.action for entry in store.entries_for_case(case_id)]
    for expected in (
        "case.received",
        "task.created",
        "task.sent",
        "task.confirmed",
        "case.viewed",
        "case.action",
        "case.close",
    ):
        assert expected in actions

    target = store.entries_for_case(case_id)[2]
    with state.db.session() as session:
        session.execute(
            update(AuditLogRow).where(AuditLogRow.seq == target.seq).values(actor="someone-else")
        )
    broken = check(store)
    assert not broken.intact and broken.problem is not None
    assert broken.problem.seq == target.seq
    assert f"(seq {target.seq})" in str(broken.problem)
