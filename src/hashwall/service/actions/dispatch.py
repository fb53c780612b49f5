"""Turn new match records into their bank's actions, inside the transaction that stores them.

A bank's ``action`` is free text (it predates this module); the words ``review`` and
``webhook`` in it (or ``both``) switch the two actions on, so ``"review"``, ``"webhook"``,
``"review+webhook"`` and ``"review,webhook"`` all work and any other value does nothing.
Writing the review item and the webhook deliveries in the same transaction as the match
record means no match is stored without its action and no action exists without its match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.service.actions.flood import check_flood
from hashwall.store import Bank, MatchRecord
from hashwall.store.action_models import BankWebhook, ReviewItem, WebhookDelivery
from hashwall.store.catalog_models import CatalogItem

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

REVIEW = "review"
WEBHOOK = "webhook"
_WORD = re.compile(r"[a-z_]+")


def actions_of(action: str | None) -> frozenset[str]:
    words = set(_WORD.findall((action or "").lower()))
    if "both" in words:
        words |= {REVIEW, WEBHOOK}
    return frozenset(words & {REVIEW, WEBHOOK})


class _ActionBank(Protocol):
    @property
    def action(self) -> str | None: ...

    @property
    def review_only(self) -> bool: ...


#: What a match may trigger in a bank the public fills without the operator's opt-in: only
#: human review, never an automatic action (docs/security.md, "Public entries").
REVIEW_ONLY_ACTIONS = frozenset({REVIEW})


def bank_actions(bank: _ActionBank | None) -> frozenset[str]:
    """The actions a match in ``bank`` triggers: the words of its ``action``, less the
    automatic ones (webhooks) while its entries are public and unvouched for."""
    if bank is None:
        return frozenset()
    wanted = actions_of(bank.action)
    return wanted & REVIEW_ONLY_ACTIONS if bank.review_only else wanted


def webhook_body(record: MatchRecord, bank: Bank, item: CatalogItem | None) -> str:
    """The JSON a webhook receives; fixed when enqueued so every retry signs the same bytes."""
    payload: dict[str, Any] = {
        "event": "match",
        "match_record_id": record.id,
        "bank": {"id": bank.id, "name": bank.name},
        "entry_source": bank.entry_source or "curated",
        "entry_id": record.entry_id,
        "signal": record.signal_type,
        "distance": record.distance,
        "query_variant": record.query_variant,
        "query_kind": record.query_kind,
        "query_label": record.query_label,
        "request_id": record.request_id,
        "created_at": record.created_at.isoformat(),
        "catalog_item": None
        if item is None
        else {"id": item.id, "content_id": item.content_id, "url": item.url},
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def on_new_records(
    state: ServiceState,
    session: Session,
    records: Sequence[MatchRecord],
    query_signals: Mapping[int, str],
) -> list[int]:
    """Enqueue reviews and webhook deliveries; returns entries quarantined by flooding
    (the caller publishes them after the commit).

    ``query_signals`` maps a record id to the matched item's hashes (JSON), kept with its
    review item so a false positive can go to a negative bank.
    """
    if not records:
        return []
    bank_ids = {r.bank_id for r in records}
    banks = {b.id: b for b in session.scalars(select(Bank).where(Bank.id.in_(bank_ids)))}
    wanted = {bank_id: bank_actions(bank) for bank_id, bank in banks.items()}
    hooks: dict[int, list[BankWebhook]] = {}
    if any(WEBHOOK in a for a in wanted.values()):
        for hook in session.scalars(
            select(BankWebhook).where(BankWebhook.bank_id.in_(bank_ids), BankWebhook.enabled)
        ):
            hooks.setdefault(hook.bank_id, []).append(hook)
    item_ids = {r.catalog_item_id for r in records if r.catalog_item_id is not None}
    items = {}
    if item_ids and hooks:
        items = {
            i.id: i
            for i in session.scalars(select(CatalogItem).where(CatalogItem.id.in_(item_ids)))
        }
    for record in records:
        actions = wanted.get(record.bank_id, frozenset())
        if REVIEW in actions:
            session.add(
                ReviewItem(
                    match_record_id=record.id,
                    bank_id=record.bank_id,
                    query_signals=query_signals.get(record.id, "[]"),
                )
            )
        if WEBHOOK in actions:
            item = items.get(record.catalog_item_id) if record.catalog_item_id else None
            for hook in hooks.get(record.bank_id, []):
                session.add(
                    WebhookDelivery(
                        webhook_id=hook.id,
                        match_record_id=record.id,
                        body=webhook_body(record, banks[record.bank_id], item),
                    )
                )
    session.flush()
    return check_flood(state, session, {r.entry_id for r in records})
