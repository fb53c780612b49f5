"""Storing and revoking templates: the database side (bank, entry, template row, audit, change).

Every write appends a ``changes`` row (kind ``entry``) in its own transaction, so every worker
loads or drops the template from memory; the worker that served the request does it before
answering. Audit rows and log lines carry the template id only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashwall.likeness.templates import Template, template_to_bytes
from hashwall.service.errors import ApiError
from hashwall.service.likeness.cache import aware
from hashwall.service.likeness.consent import Consent
from hashwall.service.likeness.keys import hash_token, new_revocation_token, service_key
from hashwall.service.likeness.schemas import ConsentOut, TemplateOut
from hashwall.service.state import ServiceState
from hashwall.service.system_banks import ensure_bank
from hashwall.store import Bank, Change, ChangeKind, Entry, EntryState
from hashwall.store.likeness_models import LikenessAudit, LikenessEvent, LikenessTemplate
from hashwall.store.models import utcnow

log = logging.getLogger("hashwall.service.likeness")

CONTENT_TYPE = "likeness"


def likeness_bank_id(state: ServiceState) -> int:
    """The bank whose actions likeness matches trigger; created (action ``review``) if missing."""
    name = state.settings.likeness_bank
    bank_id = ensure_bank(
        state,
        name,
        description="Likeness protection: intimate content showing enrolled people",
        action="review",
    )
    with state.db.session() as session:
        negative = session.scalar(select(Bank.negative).where(Bank.id == bank_id))
    if negative:
        raise ApiError(409, f"bank {name!r} is negative; set HASHWALL_LIKENESS_BANK", None)
    return bank_id


def status_of(row: LikenessTemplate, entry_state: EntryState, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    expires = aware(row.consent_expires_at)
    if expires is not None and expires <= now:
        return "expired"
    return "active" if entry_state is EntryState.ACTIVE else "suspended"


def template_out(row: LikenessTemplate, entry_state: EntryState) -> TemplateOut:
    return TemplateOut(
        template_id=row.template_id,
        entry_id=row.entry_id,
        model_id=row.model_id,
        embedding_count=row.embedding_count,
        status=status_of(row, entry_state, datetime.now(UTC)),  # type: ignore[arg-type]
        consent=ConsentOut(
            subject=row.consent_subject,
            statement=row.consent_statement,
            purpose=row.consent_purpose,
            given_at=aware(row.consent_given_at),  # type: ignore[arg-type]
            expires_at=aware(row.consent_expires_at),
            verification=row.consent_verification,
        ),
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        revoked_at=aware(row.revoked_at),
        revoked_by=row.revoked_by,
    )


def store_template(
    state: ServiceState, template: Template, consent: Consent, key_id: int
) -> tuple[TemplateOut, str]:
    """Encrypt with the service key and store; returns the row and the revocation token."""
    key = service_key(state.settings)
    assert key is not None  # the route checked LikenessRuntime.require
    ciphertext = template_to_bytes(template, key).decode("utf-8")
    bank_id = likeness_bank_id(state)
    token = new_revocation_token()
    try:
        with state.db.session() as session:
            if session.scalars(
                select(LikenessTemplate.id).where(
                    LikenessTemplate.template_id == template.template_id
                )
            ).first():
                raise ApiError(409, "this template was uploaded before", "file")
            entry = Entry(
                bank_id=bank_id,
                content_type=CONTENT_TYPE,
                label=f"likeness template {template.template_id}",
                source="likeness",
                meta={"template_id": template.template_id},
            )
            session.add(entry)
            session.flush()
            row = LikenessTemplate(
                template_id=template.template_id,
                entry_id=entry.id,
                model_id=template.model_id,
                embedding_count=int(template.embeddings.shape[0]),
                ciphertext=ciphertext,
                consent_subject=consent.subject,
                consent_statement=consent.statement,
                consent_purpose=consent.purpose,
                consent_given_at=consent.given_at,
                consent_expires_at=consent.expires_at,
                consent_verification=consent.verification,
                uploaded_by=key_id,
                revocation_token_hash=hash_token(token, state.settings.secret_key),
            )
            session.add(row)
            session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
            session.add(
                LikenessAudit(
                    template_id=template.template_id,
                    event=LikenessEvent.ENROLLED.value,
                    actor=f"api_key:{key_id}",
                )
            )
            session.flush()
            out = template_out(row, EntryState.ACTIVE)
    except IntegrityError:  # the same template uploaded twice at once
        raise ApiError(409, "this template was uploaded before", "file") from None
    state.publish(ChangeKind.ENTRY, out.entry_id)
    log.info("likeness template enrolled: %s", template.template_id)
    return out, token


def load_row(session: Session, template_id: str) -> tuple[LikenessTemplate, Entry]:
    row = session.scalars(
        select(LikenessTemplate).where(LikenessTemplate.template_id == template_id)
    ).first()
    if row is None:
        raise ApiError(404, f"no likeness template with id {template_id!r}", "template_id")
    entry = session.get(Entry, row.entry_id)
    assert entry is not None
    return row, entry


def revoke_template(state: ServiceState, row_id: int, actor: str) -> TemplateOut:
    """Delete the ciphertext, stop matching everywhere, audit. Repeating it changes nothing."""
    with state.db.session() as session:
        row = session.get(LikenessTemplate, row_id, with_for_update=not state.db.is_sqlite)
        assert row is not None
        entry = session.get(Entry, row.entry_id)
        assert entry is not None
        if row.revoked_at is None:
            row.ciphertext = None
            row.revoked_at = utcnow()
            row.revoked_by = actor
            entry.state = EntryState.DELETED
            session.add(Change(kind=ChangeKind.ENTRY, target_id=entry.id))
            session.add(
                LikenessAudit(
                    template_id=row.template_id, event=LikenessEvent.REVOKED.value, actor=actor
                )
            )
            session.flush()
            log.info("likeness template revoked: %s", row.template_id)
        out = template_out(row, entry.state)
    state.publish(ChangeKind.ENTRY, out.entry_id)
    return out
