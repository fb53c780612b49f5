"""Deliver webhook calls: HMAC-signed JSON, retried with capped exponential backoff.

Deliveries live in the ``webhook_deliveries`` table, so a restarted worker simply picks up
whatever is still pending: nothing is held only in memory. Several workers may poll the
same table; an attempt is *claimed* by bumping ``claim_version`` (and pushing
``next_attempt_at`` past the request timeout) in one conditional UPDATE, so only one worker
sends it. Receivers verify ``X-Hashwall-Signature: sha256=<hex HMAC-SHA256 of the raw body>``
with the secret they were given when the webhook was created. Neither the secret nor the
body is logged; log lines name the delivery id and the status code only. Secrets are stored
sealed (:mod:`hashwall.service.sealed`) and every call passes the egress check
(:mod:`hashwall.net.egress`) first.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from hashwall.net.egress import IpAddress, is_proxied, pinned_handlers, vet
from hashwall.service.actions.claims import claim_due, claimed_row, lease_until
from hashwall.service.actions.polling import PollingWorker
from hashwall.service.sealed import UnsealError, needs_sealing, seal, unseal
from hashwall.service.settings import Settings
from hashwall.store import Database
from hashwall.store.action_models import BankWebhook, DeliveryStatus, WebhookDelivery
from hashwall.store.models import utcnow

log = logging.getLogger("hashwall.service.webhooks")

SIGNATURE_HEADER = "X-Hashwall-Signature"
#: Purpose string of sealed webhook secrets (binds the ciphertext to this column).
SECRET_PURPOSE = "bank_webhooks.secret"
_BATCH = 20


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Delay before the next try after ``attempts`` failures: base * 2**(n-1), capped."""
    delay = settings.webhook_backoff_seconds * (2 ** max(attempts - 1, 0))
    return float(min(delay, settings.webhook_backoff_cap_seconds))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would re-send (or drop) the signed body somewhere not configured: refuse it.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def seal_secret(settings: Settings, secret: str) -> str:
    """What ``bank_webhooks.secret`` stores for a new webhook."""
    return seal(settings.secret_key, secret, purpose=SECRET_PURPOSE)


def open_secret(settings: Settings, stored: str) -> str:
    """The clear secret; a value sealed under a legacy key (development data written under
    the published default) still opens."""
    try:
        return unseal(settings.secret_key, stored, purpose=SECRET_PURPOSE)
    except UnsealError:
        for old in settings.legacy_secret_keys():
            try:
                return unseal(old, stored, purpose=SECRET_PURPOSE)
            except UnsealError:
                continue
        raise


def _resealed(settings: Settings, stored: str) -> str | None:
    """``stored`` sealed under the current key, or ``None`` when it already is (or cannot be
    opened at all: deliveries then say so)."""
    if needs_sealing(stored):
        return seal_secret(settings, stored)
    try:
        unseal(settings.secret_key, stored, purpose=SECRET_PURPOSE)
        return None
    except UnsealError:
        pass
    try:
        return seal_secret(settings, open_secret(settings, stored))
    except UnsealError:
        return None


def seal_legacy_secrets(db: Database, settings: Settings) -> int:
    """Seal secrets stored in clear by versions before sealing, and re-seal those sealed
    under a legacy key (:meth:`Settings.legacy_secret_keys`); returns how many.

    Run at start-up: idempotent, and a sealed value is never sealed twice."""
    sealed = 0
    with db.session() as session:
        for hook in session.scalars(select(BankWebhook)):
            resealed = _resealed(settings, hook.secret)
            if resealed is not None:
                hook.secret = resealed
                sealed += 1
    if sealed:
        log.info("sealed %d webhook secret(s) stored in clear or under an old key", sealed)
    return sealed


def post_signed(
    url: str,
    secret: str,
    body: bytes,
    *,
    delivery_id: str,
    event: str,
    timeout: float,
    user_agent: str,
    pinned: tuple[IpAddress, ...] = (),
) -> Attempt:
    """POST ``body`` signed with ``secret``; the outcome, never an exception.

    Shared with takedown calls (:mod:`hashwall.service.takedown.delivery`) so that both are
    signed, identified and refused redirects the same way. ``pinned``: connect to these
    addresses (checked by :func:`~hashwall.net.egress.vet`), not to a new lookup
    of the URL's host."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": user_agent,
            SIGNATURE_HEADER: sign(secret, body),
            "X-Hashwall-Delivery": delivery_id,
            "X-Hashwall-Event": event,
        },
    )
    try:
        opener = _opener
        if pinned and not is_proxied(url):
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), _NoRedirect(), *pinned_handlers(pinned)
            )
        with opener.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            return Attempt(int(response.status), "")
    except urllib.error.HTTPError as error:
        return Attempt(int(error.code), f"HTTP {error.code}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Attempt(None, f"{type(error).__name__}: {reason}"[:500])


def post(
    url: str,
    secret: str,
    body: str,
    delivery_id: int,
    timeout: float,
    *,
    allow_private: bool = True,
) -> Attempt:
    """One bank webhook call, after the egress check (bank webhook URLs are user-supplied)."""
    verdict = vet(url, allow_private=allow_private)
    if verdict.refused is not None:
        return Attempt(None, f"refused: {verdict.refused}"[:500])
    return post_signed(
        url,
        secret,
        body.encode(),
        delivery_id=str(delivery_id),
        event="match",
        timeout=timeout,
        user_agent="hashwall-webhook",
        pinned=verdict.addresses,
    )


class WebhookWorker(PollingWorker):
    """Background thread of one worker process: sends due deliveries, records each attempt."""

    thread_name = "hashwall-webhooks"
    batch = _BATCH
    logger = log
    failure_message = "webhook delivery loop failed; retrying"

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__()
        self.db = db
        self.settings = settings

    def _claim(self) -> list[tuple[int, int, tuple[str, str, str]]]:
        """Due deliveries this worker won: (id, new version, (body, url, stored secret))."""
        now = utcnow()
        with self.db.session() as session:
            due = [
                (row.id, row.claim_version, (row.body, row.url, row.secret))
                for row in session.execute(
                    select(
                        WebhookDelivery.id,
                        WebhookDelivery.claim_version,
                        WebhookDelivery.body,
                        BankWebhook.url,
                        BankWebhook.secret,
                    )
                    .join(BankWebhook, BankWebhook.id == WebhookDelivery.webhook_id)
                    .where(
                        WebhookDelivery.status == DeliveryStatus.PENDING,
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(_BATCH)
                )
            ]
        pending = WebhookDelivery.status == DeliveryStatus.PENDING
        lease = lease_until(self.settings, now)
        return claim_due(self.db, WebhookDelivery, due, pending, next_attempt_at=lease)

    def _record(self, delivery_id: int, version: int, attempt: Attempt) -> None:
        with self.db.session(immediate=True) as session:
            delivery = claimed_row(session, WebhookDelivery, delivery_id, version)
            if delivery is None:
                return
            delivery.attempts += 1
            delivery.last_status_code = attempt.status_code
            delivery.last_error = attempt.error
            now = utcnow()
            if attempt.ok:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
            elif delivery.attempts >= self.settings.webhook_max_attempts:
                delivery.status = DeliveryStatus.FAILED
            else:
                delay = backoff_seconds(self.settings, delivery.attempts)
                delivery.next_attempt_at = now + timedelta(seconds=delay)
        log.info(
            "webhook delivery %d: %s",
            delivery_id,
            attempt.status_code if attempt.status_code is not None else "no response",
        )

    def run_once(self) -> int:
        """Send every due delivery once; returns how many were attempted."""
        claimed = self._claim()
        for delivery_id, version, (body, url, stored_secret) in claimed:
            try:
                secret = open_secret(self.settings, stored_secret)
            except UnsealError as error:
                self._record(delivery_id, version, Attempt(None, str(error)[:500]))
                continue
            attempt = post(
                url,
                secret,
                body,
                delivery_id,
                self.settings.webhook_timeout_seconds,
                allow_private=self.settings.webhooks_may_reach_private,
            )
            self._record(delivery_id, version, attempt)
        return len(claimed)

    def poll_seconds(self) -> float:
        return self.settings.webhook_poll_seconds
