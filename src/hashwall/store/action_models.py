"""Tables of match actions: the review queue, signed webhooks and flood quarantine.

Design notes (why, not what):

* A review item and a webhook delivery are written in the **same transaction** as the match
  record that caused them, so a stored match never lacks its action, and both carry a unique
  constraint on the match record so a re-run sweep cannot enqueue twice.
* A delivery stores the exact JSON body it will send: the HMAC signature is over those bytes,
  so every retry sends (and signs) the same body. ``claim_version`` lets several worker
  processes poll the same table; whoever bumps it first sends that attempt.
* The webhook secret must be readable by the server (it signs with it), so it cannot be a
  one-way hash; it is stored *sealed* (AES-GCM under a key derived from the service's secret
  key, see ``hashwall.service.sealed``), returned only in the response that creates the
  webhook, and never logged.
* ``entry_quarantines`` keeps the history of flood quarantines; the flood count of an entry
  starts again after its last review decision, so a reinstated entry is not re-quarantined by
  the very matches that were just reviewed.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashwall.store.models import Base, BigId, _enum, utcnow


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


class QuarantineDecision(enum.StrEnum):
    REINSTATED = "reinstated"
    DELETED = "deleted"


class ReviewItem(Base):
    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_record_id: Mapped[int] = mapped_column(
        ForeignKey("match_records.id", ondelete="CASCADE"), unique=True
    )
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    status: Mapped[ReviewStatus] = mapped_column(
        _enum(ReviewStatus, "review_status"), default=ReviewStatus.PENDING
    )
    #: The matched item's hashes as ``[[signal_type, variant, value, quality], ...]``, so a false
    #: positive can be added to a negative bank (API queries are not stored anywhere else).
    query_signals: Mapped[str] = mapped_column(Text, default="[]")
    claimed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str] = mapped_column(String(2000), default="")
    negative_entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BankWebhook(Base):
    __tablename__ = "bank_webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(400))  # sealed: a 200-character secret is 314
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "match_record_id", name="uq_delivery_webhook_match"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("bank_webhooks.id", ondelete="CASCADE"))
    match_record_id: Mapped[int] = mapped_column(
        ForeignKey("match_records.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_version: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class EntryQuarantine(Base):
    __tablename__ = "entry_quarantines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    #: Distinct items the entry had matched in the window when it was quarantined.
    distinct_items: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    decision: Mapped[QuarantineDecision | None] = mapped_column(
        _enum(QuarantineDecision, "quarantine_decision"), nullable=True
    )
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
