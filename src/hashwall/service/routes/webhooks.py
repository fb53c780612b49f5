"""Per-bank webhooks (signed match notifications) and their delivery log.

The secret is returned once, when the webhook is created; listings never include it, and the
database holds it sealed (encrypted under a key derived from ``HASHWALL_SECRET_KEY``).
Only ``http``/``https`` URLs are accepted, in production only to public addresses
(:mod:`hashwall.net.egress`), and redirects are not followed when delivering.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.net.egress import refusal
from hashwall.service.action_schemas import (
    DeliveryList,
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)
from hashwall.service.actions.webhooks import seal_secret
from hashwall.service.auth import Permission, Principal, require
from hashwall.service.errors import ApiError
from hashwall.service.routes.common import Id, load_or_404
from hashwall.service.state import ServiceState, get_state
from hashwall.store import Bank
from hashwall.store.action_models import BankWebhook, DeliveryStatus, WebhookDelivery

router = APIRouter(prefix="/v1", tags=["webhooks"])
State = Annotated[ServiceState, Depends(get_state)]


def _valid_url(url: str, *, allow_private: bool) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ApiError(422, "not a valid URL", "url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(422, "must be an http:// or https:// URL with a host", "url")
    if port == 0 or any(c.isspace() for c in url):
        raise ApiError(422, "not a valid URL", "url")
    refused = refusal(url, allow_private=allow_private)
    if refused is not None:
        raise ApiError(422, refused, "url")
    return url


def webhook_out(hook: BankWebhook) -> WebhookOut:
    return WebhookOut(
        id=hook.id,
        bank_id=hook.bank_id,
        url=hook.url,
        enabled=hook.enabled,
        created_at=hook.created_at,
    )


@router.post("/banks/{bank_id}/webhooks", status_code=201, response_model=WebhookCreated)
def create_webhook(
    bank_id: Id,
    body: WebhookCreate,
    state: State,
    _: Annotated[Principal, require(Permission.WEBHOOKS)],
) -> WebhookCreated:
    """Add a webhook to a bank; matches there are POSTed to it when the bank's action says
    ``webhook``. The response carries the signing secret, only this once."""
    url = _valid_url(body.url, allow_private=state.settings.webhooks_may_reach_private)
    secret = body.secret or "whsec_" + secrets.token_urlsafe(32)
    with state.db.session() as session:
        load_or_404(session, Bank, bank_id, "bank")
        stored = seal_secret(state.settings, secret)
        hook = BankWebhook(bank_id=bank_id, url=url, secret=stored, enabled=True)
        session.add(hook)
        session.flush()
        out = webhook_out(hook)
    return WebhookCreated(**out.model_dump(), secret=secret)


@router.get("/banks/{bank_id}/webhooks", response_model=list[WebhookOut])
def list_webhooks(
    bank_id: Id, state: State, _: Annotated[Principal, require(Permission.WEBHOOKS)]
) -> list[WebhookOut]:
    with state.db.session(readonly=True) as session:
        load_or_404(session, Bank, bank_id, "bank")
        hooks = session.scalars(
            select(BankWebhook).where(BankWebhook.bank_id == bank_id).order_by(BankWebhook.id)
        )
        return [webhook_out(h) for h in hooks]


def _load_hook(session: Session, webhook_id: int) -> BankWebhook:
    return load_or_404(session, BankWebhook, webhook_id, "webhook")


@router.delete("/webhooks/{webhook_id}", response_model=WebhookOut)
def delete_webhook(
    webhook_id: Id, state: State, principal: Annotated[Principal, require(Permission.WEBHOOKS)]
) -> WebhookOut:
    """Remove a webhook; its pending deliveries are dropped with it."""
    with state.db.session() as session:
        hook = _load_hook(session, webhook_id)
        principal.check_bank(hook.bank_id, "webhook_id")
        out = webhook_out(hook)
        session.delete(hook)
    return out


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryList)
def list_deliveries(
    webhook_id: Id,
    state: State,
    principal: Annotated[Principal, require(Permission.WEBHOOKS)],
    status: Annotated[DeliveryStatus | None, Query()] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """The delivery log: attempts, last status code or error, next attempt."""
    with state.db.session(readonly=True) as session:
        principal.check_bank(_load_hook(session, webhook_id).bank_id, "webhook_id")
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.id > after_id)
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        rows = [
            DeliveryOut(
                id=d.id,
                webhook_id=d.webhook_id,
                match_record_id=d.match_record_id,
                status=d.status.value,
                attempts=d.attempts,
                last_status_code=d.last_status_code,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at,
                delivered_at=d.delivered_at,
                created_at=d.created_at,
            )
            for d in session.scalars(query)
        ]
    return DeliveryList(deliveries=rows, next_after_id=rows[-1].id if len(rows) == limit else None)
