"""Tables of the survivor portal (``/portal``): cases, their entries, throttles, removals.

Design notes:

* A case holds no hashes itself: its hashes are ordinary entries of the portal bank (so they
  match through the same index and change log as every other entry); ``portal_case_entries``
  links them. The case row stores only a salted scrypt hash of the PIN, never the PIN.
* ``portal_throttles`` counts wrong PINs per client address and per *case number as typed*,
  whether or not such a case exists, so lock-outs look the same for unknown and real cases.
  Addresses and case numbers are stored only as keyed HMACs (``key``), never in clear.
* ``portal_removals`` lets a platform report that it removed an item it matched; the status
  page counts them. One report per stored match record.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashwall.store.models import Base, BigId, _enum, utcnow


class CaseState(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class PortalCase(Base):
    __tablename__ = "portal_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: ``HW-XXXX-XXXX`` as shown to the person (unique).
    number: Mapped[str] = mapped_column(String(16), unique=True)
    #: ``scrypt$n$r$p$salt$hash`` (hex); the PIN itself is shown once and never stored.
    pin_hash: Mapped[str] = mapped_column(String(256))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    state: Mapped[CaseState] = mapped_column(
        _enum(CaseState, "portal_case_state"), default=CaseState.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PortalCaseEntry(Base):
    __tablename__ = "portal_case_entries"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("portal_cases.id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PortalThrottle(Base):
    """Wrong-PIN (or case-creation) counter for one scope and one HMAC'd key."""

    __tablename__ = "portal_throttles"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_portal_throttle"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PortalRemoval(Base):
    """A platform's report that it removed the item behind one of its match records."""

    __tablename__ = "portal_removals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_record_id: Mapped[int] = mapped_column(
        ForeignKey("match_records.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
