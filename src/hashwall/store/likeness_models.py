"""Tables of likeness protection: enrolled templates with their consent record, and an audit log.

Design notes (why, not what):

* Each template is backed by an :class:`~hashwall.store.models.Entry` of the likeness bank
  (``entry_id``). Match records, the review queue, webhooks and flood quarantine all key on
  entries, so a likeness hit reuses them unchanged, and the ``changes`` log (kind ``entry``)
  tells every worker to reload or drop the template from memory.
* ``ciphertext`` is the encrypted template file (AES-256-GCM under the service's
  ``HASHWALL_LIKENESS_KEY``); it is set to NULL on revocation. The consent record stays: it is
  the evidence of the lawful basis for the processing that happened while it was valid, and it
  holds no biometric data.
* The revocation token is stored as an HMAC (peppered with the secret key), like API keys.
* ``likeness_events`` is the audit trail: template id, event, actor; never embeddings or keys.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashwall.store.models import Base, BigId, utcnow


class LikenessEvent(enum.StrEnum):
    ENROLLED = "enrolled"
    REVOKED = "revoked"
    #: Re-encrypted under the current key (``hashwall likeness rotate-key``); actor ``cli`` or
    #: ``api_key:<id>``.
    KEY_ROTATED = "key_rotated"


class LikenessTemplate(Base):
    __tablename__ = "likeness_templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The template file's random UUID (hex): not personal data, used in URLs and audit lines.
    template_id: Mapped[str] = mapped_column(String(64), unique=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), unique=True)
    model_id: Mapped[str] = mapped_column(String(200))
    embedding_count: Mapped[int] = mapped_column(Integer)
    #: Encrypted template file (JSON envelope); NULL once revoked.
    ciphertext: Mapped[str | None] = mapped_column(Text, nullable=True)
    consent_subject: Mapped[str] = mapped_column(String(200))
    consent_statement: Mapped[str] = mapped_column(Text)
    consent_purpose: Mapped[str] = mapped_column(String(200))
    consent_given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consent_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    #: How the platform checked that the uploader is the person shown (free text, no documents).
    consent_verification: Mapped[str] = mapped_column(String(500))
    uploaded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revocation_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: ``api_key:<id>`` or ``revocation_token``.
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LikenessAudit(Base):
    __tablename__ = "likeness_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
