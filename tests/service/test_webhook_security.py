"""Webhook secrets sealed at rest, and webhooks kept off private addresses in production.

Why: a copied database must not let anyone forge signed takedown calls, and a curator must not
be able to make the server call its own internal network (SSRF)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from hashwall.net import egress
from hashwall.service.actions import webhooks
from hashwall.service.actions.webhooks import (
    SECRET_PURPOSE,
    WebhookWorker,
    open_secret,
    seal_legacy_secrets,
)
from hashwall.service.sealed import PREFIX, UnsealError, seal, unseal
from hashwall.service.settings import Settings
from hashwall.store import Database, create_database
from hashwall.store.action_models import BankWebhook, WebhookDelivery
from hashwall.store.models import utcnow
from tests.service.conftest import Api
from tests.service.test_actions import Receiver, add, fast, query, receiver_factory
from tests.service.test_api_core import PDQ_A
from tests.service.test_workers import wait_for

__all__ = ["fast", "receiver_factory"]  # fixtures re-used from test_actions

KEY = "a-service-secret-key-for-tests"


@given(st.text(min_size=1, max_size=200))
def test_seal_round_trip(secret: str) -> None:
    sealed = seal(KEY, secret, purpose="p")
    assert sealed.startswith(PREFIX)
    assert secret not in sealed[len(PREFIX) :] or len(secret) < 4
    assert unseal(KEY, sealed, purpose="p") == secret


def test_sealed_value_fits_the_column_for_the_longest_secret() -> None:
    column = BankWebhook.__table__.c.secret.type.length
    assert len(seal(KEY, "x" * 200, purpose=SECRET_PURPOSE)) <= column


def test_unseal_refuses_other_key_other_purpose_and_tampering() -> None:
    sealed = seal(KEY, "whsec_abc", purpose="p")
    with pytest.raises(UnsealError, match="HASHWALL_SECRET_KEY"):
        unseal("another-key-entirely-0000", sealed, purpose="p")
    with pytest.raises(UnsealError):
        unseal(KEY, sealed, purpose="q")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(UnsealError):
        unseal(KEY, flipped, purpose="p")
    assert unseal(KEY, "legacy-clear-secret", purpose="p") == "legacy-clear-secret"


def stored_secrets(settings: Settings) -> list[str]:
    db = create_database(settings.resolved_database_url())
    try:
        with db.session() as session:
            return list(session.scalars(select(BankWebhook.secret)))
    finally:
        db.dispose()


def test_secret_is_sealed_in_the_database_and_still_signs(
    api_factory: Callable[[Settings], Api],
    fast: Settings,
    receiver_factory: Callable[[list[int]], Receiver],
) -> None:
    api = api_factory(fast)
    receiver = receiver_factory([])
    bank = api.create_bank("ncii", action="webhook")
    hook = api.call(
        "POST", f"/v1/banks/{bank['id']}/webhooks", "curator", json={"url": receiver.url}
    ).json()
    (stored,) = stored_secrets(fast)
    assert stored.startswith(PREFIX) and hook["secret"] not in stored
    add(api, bank["id"], PDQ_A)
    query(api, PDQ_A)
    wait_for(lambda: len(receiver.calls) == 1, 5)
    headers, body = receiver.calls[0]
    expected = hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hashwall-Signature"] == "sha256=" + expected


def test_clear_secrets_from_older_versions_are_sealed_once(api: Api) -> None:
    bank = api.create_bank()
    api.call("POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": "http://127.0.0.1:9/h"})
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            session.execute(update(BankWebhook).values(secret="whsec_written-in-clear"))
        assert seal_legacy_secrets(db, api.settings) == 1
        assert seal_legacy_secrets(db, api.settings) == 0
        (stored,) = stored_secrets(api.settings)
        assert stored.startswith(PREFIX)
        assert open_secret(api.settings, stored) == "whsec_written-in-clear"
    finally:
        db.dispose()


def delivery_state(db: Database) -> WebhookDelivery:
    with db.session() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        session.expunge(delivery)
        return delivery


def test_delivery_with_unreadable_secret_is_logged_not_sent(
    api_factory: Callable[[Settings], Api], fast: Settings
) -> None:
    slow_retry = {"webhook_backoff_seconds": 60.0, "webhook_backoff_cap_seconds": 60.0}
    api = api_factory(fast.model_copy(update=slow_retry))
    bank = api.create_bank("ncii", action="webhook")
    closed_port = "http://127.0.0.1:9/h"  # the app's own first attempt fails, retry in 60 s
    api.call("POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": closed_port})
    add(api, bank["id"], PDQ_A)
    query(api, PDQ_A)
    db = create_database(api.settings.resolved_database_url())
    try:
        wait_for(lambda: delivery_state(db).attempts == 1, 5)
        with db.session() as session:
            session.execute(
                update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        rekeyed = api.settings.model_copy(update={"secret_key": "a-different-secret-key-1234"})
        assert WebhookWorker(db, rekeyed).run_once() == 1
        delivery = delivery_state(db)
        assert delivery.attempts == 2
        assert "HASHWALL_SECRET_KEY" in delivery.last_error
        assert delivery.last_status_code is None
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "address, public",
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1", False),
        ("224.0.0.1", False),
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert egress.is_public(ipaddress.ip_address(address)) is public


def test_refusal_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert egress.refusal("http://127.0.0.1/h", allow_private=True) is None
    reason = egress.refusal("http://127.0.0.1/h", allow_private=False)
    assert reason is not None and "non-public" in reason
    mapped = egress.refusal("http://[::ffff:10.0.0.1]/h", allow_private=False)
    assert mapped is not None and "10.0.0.1" in mapped
    assert "does not resolve" in (
        egress.refusal("http://no-such-host.invalid/", allow_private=False) or ""
    )
    monkeypatch.setattr(egress, "_addresses", lambda host, port: [ipaddress.ip_address("8.8.8.8")])
    assert egress.refusal("https://hooks.example.com/x", allow_private=False) is None


def test_production_refuses_private_webhook_urls(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    production = settings.model_copy(update={"env": "production"})
    assert not production.webhooks_may_reach_private
    assert settings.webhooks_may_reach_private  # development default
    api = api_factory(production)
    bank = api.create_bank()
    for url in ("http://127.0.0.1:8080/h", "http://169.254.169.254/latest", "http://[::1]/h"):
        response = api.call("POST", f"/v1/banks/{bank['id']}/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"]["field"] == "url"
    allowed = production.model_copy(update={"webhook_allow_private": True})
    assert allowed.webhooks_may_reach_private


def test_longest_secret_is_stored_sealed(api: Api) -> None:
    """The column (migration 0008) holds the sealed form of a 200-character secret."""
    bank = api.create_bank()
    secret = "s" * 200
    body = {"url": "http://127.0.0.1:9/h", "secret": secret}
    created = api.call("POST", f"/v1/banks/{bank['id']}/webhooks", json=body)
    assert created.status_code == 201, created.text
    (stored,) = stored_secrets(api.settings)
    assert open_secret(api.settings, stored) == secret


REBOUND = "hooks.rebind.test"


def test_a_call_connects_to_the_checked_address_not_a_second_lookup(
    monkeypatch: pytest.MonkeyPatch, receiver_factory: Callable[[list[int]], Receiver]
) -> None:
    """DNS rebinding: the name resolves to a public address for the check and to 127.0.0.1
    a moment later. The call must go to the checked address (here: refused, no network),
    never to the receiver on 127.0.0.1 that a second lookup would have reached."""
    receiver = receiver_factory([])
    port = int(receiver.url.split(":")[2].split("/")[0])
    answers = iter(["93.184.215.14"])
    real_lookup, real_connect = socket.getaddrinfo, socket.create_connection
    connected: list[tuple[str, int]] = []

    def lookup(host: object, *args: object, **kwargs: object) -> object:
        if host == REBOUND:
            address = next(answers, "127.0.0.1")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_lookup(host, *args, **kwargs)  # type: ignore[arg-type]

    def connect(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError("no network in tests")
        return real_connect(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket, "create_connection", connect)
    attempt = webhooks.post(
        f"http://{REBOUND}:{port}/hook", "secret", "{}", 1, 2.0, allow_private=False
    )
    assert not attempt.ok and "refused" not in attempt.error
    assert connected == [("93.184.215.14", port)]
    assert receiver.calls == []


def test_a_pinned_call_keeps_the_host_name_in_its_request(
    receiver_factory: Callable[[list[int]], Receiver],
) -> None:
    """Pinning changes where the socket goes, not the request: the Host header (and for
    HTTPS the TLS name) is still the URL's host, which here does not even resolve."""
    receiver = receiver_factory([])
    port = int(receiver.url.split(":")[2].split("/")[0])
    attempt = webhooks.post_signed(
        f"http://hooks.pinned.invalid:{port}/hook",
        "secret",
        b"{}",
        delivery_id="7",
        event="match",
        timeout=2.0,
        user_agent="test",
        pinned=(ipaddress.ip_address("127.0.0.1"),),
    )
    assert attempt.ok, attempt.error
    [(headers, body)] = receiver.calls
    assert headers["Host"] == f"hooks.pinned.invalid:{port}" and body == b"{}"
