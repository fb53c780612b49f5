"""Bank actions: the review queue (claim, decide, false positive -> negative bank) and
HMAC-signed webhooks delivered with retries, backoff and a delivery log that survives restarts.
Webhooks only ever go to a local receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hashwall.service.actions.dispatch import actions_of
from hashwall.service.actions.webhooks import backoff_seconds
from hashwall.service.settings import Settings
from tests.service.conftest import SECRET, Api
from tests.service.test_api_core import PDQ_A, flip
from tests.service.test_workers import wait_for


class Receiver:
    """A local HTTP endpoint answering with scripted status codes (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.calls: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[list[int]], Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_backoff_seconds": 0.05,
            "webhook_backoff_cap_seconds": 0.1,
            "webhook_poll_seconds": 0.05,
            "webhook_max_attempts": 3,
            "webhook_timeout_seconds": 2.0,
        }
    )


def query(api: Api, value: str, role: str = "matcher") -> Any:
    body = {"queries": [{"signal_type": "pdq", "signal_value": value}]}
    response = api.call("POST", "/v1/match/hashes", role, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def add(api: Api, bank_id: int, value: str) -> dict[str, Any]:
    body = {"hashes": [{"signal_type": "pdq", "signal_value": value}]}
    response = api.call("POST", f"/v1/banks/{bank_id}/entries", "curator", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_action_words() -> None:
    assert actions_of("review") == {"review"}
    assert actions_of("Webhook") == {"webhook"}
    assert actions_of("review+webhook") == actions_of("both") == {"review", "webhook"}
    assert actions_of(None) == actions_of("flag") == frozenset()


def test_backoff_doubles_and_is_capped(fast: Settings) -> None:
    assert [backoff_seconds(fast, n) for n in (1, 2, 3, 4)] == [0.05, 0.1, 0.1, 0.1]
    default = Settings(secret_key=SECRET)
    assert [backoff_seconds(default, n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert backoff_seconds(default, 30) == default.webhook_backoff_cap_seconds


def test_review_queue_claim_decide_and_false_positive(api: Api) -> None:
    bank = api.create_bank("ncii", action="review")
    silent = api.create_bank("silent")
    negative = api.create_bank("known-fp", negative=True)
    add(api, bank["id"], PDQ_A)
    add(api, silent["id"], flip(PDQ_A, 256))
    query(api, flip(PDQ_A, 5))
    query(api, flip(PDQ_A, 256))  # matches the bank without an action: no review
    queue = api.call("GET", "/v1/reviews", "reviewer")
    assert queue.status_code == 200, queue.text
    (review,) = queue.json()["reviews"]
    assert review["status"] == "pending" and review["match_record"]["distance"] == 5
    assert api.call("GET", "/v1/reviews", "matcher").status_code == 403
    assert api.call("GET", "/v1/reviews", "curator").status_code == 403

    rid = review["id"]
    claimed = api.call("POST", f"/v1/reviews/{rid}/claim", "reviewer")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] is not None
    other = api.call("POST", f"/v1/reviews/{rid}/claim", "admin")
    assert other.status_code == 409  # claimed by another reviewer
    wrong_bank = api.call(
        "POST",
        f"/v1/reviews/{rid}/decision",
        "reviewer",
        json={"decision": "false_positive", "negative_bank_id": bank["id"]},
    )
    assert (
        wrong_bank.status_code == 422 and wrong_bank.json()["error"]["field"] == "negative_bank_id"
    )
    decided = api.call(
        "POST",
        f"/v1/reviews/{rid}/decision",
        "reviewer",
        json={"decision": "false_positive", "negative_bank_id": negative["id"], "note": "logo"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "false_positive" and decided.json()["negative_entry_id"]
    again = api.call(
        "POST", f"/v1/reviews/{rid}/decision", "reviewer", json={"decision": "confirmed"}
    )
    assert again.status_code == 409
    # The look-alike is now a known false positive: suppressed before the response.
    result = query(api, flip(PDQ_A, 5))["results"][0]
    assert not result["matched"] and result["suppressed"] == 1
    assert api.call("GET", "/v1/reviews", "reviewer").json()["reviews"] == []
    done = api.call("GET", "/v1/reviews", "reviewer", params={"status": "false_positive"})
    assert [r["id"] for r in done.json()["reviews"]] == [rid]
    assert api.call("POST", "/v1/reviews/999999/claim", "reviewer").status_code == 404


def test_sweep_matches_are_reviewed_too(api: Api) -> None:
    bank = api.create_bank("ncii", action="review")
    body = {"content_id": "hosted/1", "hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}]}
    assert api.call("POST", "/v1/catalog/items", "hasher", json=body).status_code == 201
    add(api, bank["id"], flip(PDQ_A, 3))
    (review,) = api.call("GET", "/v1/reviews", "reviewer").json()["reviews"]
    assert review["match_record"]["catalog_item_id"] is not None
    confirmed = api.call(
        "POST", f"/v1/reviews/{review['id']}/decision", "reviewer", json={"decision": "confirmed"}
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"


def test_webhook_signed_retried_and_logged(
    api_factory: Callable[[Settings], Api],
    fast: Settings,
    receiver_factory: Callable[[list[int]], Receiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = api_factory(fast)
    receiver = receiver_factory([500, 503])
    bank = api.create_bank("ncii", action="webhook")
    created = api.call(
        "POST", f"/v1/banks/{bank['id']}/webhooks", "curator", json={"url": receiver.url}
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    secret = hook["secret"]
    listed = api.call("GET", f"/v1/banks/{bank['id']}/webhooks", "curator").json()
    assert listed and all("secret" not in h for h in listed)
    assert api.call("GET", f"/v1/banks/{bank['id']}/webhooks", "reviewer").status_code == 403

    entry = add(api, bank["id"], PDQ_A)
    with caplog.at_level("DEBUG"):
        query(api, PDQ_A)
        wait_for(lambda: len(receiver.calls) == 3, 5)
        log = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", "curator").json()
        wait_for(
            lambda: (
                api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", "curator").json()[
                    "deliveries"
                ][0]["status"]
                == "delivered"
            ),
            5,
        )
    assert secret not in caplog.text
    headers, body = receiver.calls[-1]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hashwall-Signature"] == expected
    assert [c[1] for c in receiver.calls] == [body] * 3  # every retry signs the same bytes
    payload = json.loads(body)
    assert payload["entry_id"] == entry["id"] and payload["bank"]["name"] == "ncii"
    log = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", "curator").json()
    (delivery,) = log["deliveries"]
    assert delivery["attempts"] == 3 and delivery["last_status_code"] == 200
    assert delivery["delivered_at"] is not None


def test_webhook_gives_up_after_max_attempts(
    api_factory: Callable[[Settings], Api],
    fast: Settings,
    receiver_factory: Callable[[list[int]], Receiver],
) -> None:
    api = api_factory(fast)
    receiver = receiver_factory([500] * 10)
    bank = api.create_bank("ncii", action="review+webhook")
    hook = api.call("POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": receiver.url}).json()
    add(api, bank["id"], PDQ_A)
    query(api, PDQ_A)

    def status() -> str:
        log = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", "curator").json()
        return str(log["deliveries"][0]["status"])

    wait_for(lambda: status() == "failed", 5)
    assert len(receiver.calls) == 3
    assert len(api.call("GET", "/v1/reviews", "reviewer").json()["reviews"]) == 1


def test_pending_deliveries_survive_a_restart(
    api_factory: Callable[[Settings], Api],
    fast: Settings,
    receiver_factory: Callable[[list[int]], Receiver],
) -> None:
    receiver = receiver_factory([])
    slow = fast.model_copy(
        update={"webhook_backoff_seconds": 60.0, "webhook_backoff_cap_seconds": 60.0}
    )
    first = api_factory(slow)
    bank = first.create_bank("ncii", action="webhook")
    dead = "http://127.0.0.1:9/unreachable"  # discard port: connection refused
    hook = first.call("POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": dead}).json()
    add(first, bank["id"], PDQ_A)
    query(first, PDQ_A)

    def attempts(api: Api) -> int:
        log = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", "curator").json()
        return int(log["deliveries"][0]["attempts"])

    wait_for(lambda: attempts(first) == 1, 5)
    first.client.__exit__(None, None, None)  # the worker stops with the delivery pending
    from hashwall.store import create_database
    from hashwall.store.action_models import BankWebhook, WebhookDelivery

    db = create_database(fast.resolved_database_url())
    try:
        with db.session() as session:
            session.get(BankWebhook, hook["id"]).url = receiver.url  # type: ignore[union-attr]
            for delivery in session.query(WebhookDelivery):
                delivery.next_attempt_at = delivery.created_at
    finally:
        db.dispose()
    second = api_factory(fast)
    second.keys = {**second.keys, **first.keys}
    wait_for(lambda: len(receiver.calls) == 1, 5)
    wait_for(lambda: attempts(second) == 2, 5)


def test_webhook_url_validation(api: Api) -> None:
    bank = api.create_bank()
    for url in ("ftp://127.0.0.1/x", "not a url", "http://", "http://127.0.0.1:99999/"):
        response = api.call("POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
    short = api.call(
        "POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": "http://127.0.0.1/", "secret": "x"}
    )
    assert short.status_code == 422
    assert (
        api.call("POST", "/v1/banks/999999/webhooks", json={"url": "http://127.0.0.1/"}).status_code
        == 404
    )
    assert api.call("DELETE", "/v1/webhooks/999999").status_code == 404
