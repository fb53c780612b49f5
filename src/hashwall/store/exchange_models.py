"""Tables of the exchanges (python-threatexchange files, StopNCII, hashwall bundles).

Why three tables:

* ``exchange_origins`` gives each bank a stable random id and a counter, so every bundle this
  instance exports for a bank carries a strictly larger ``sequence`` than the one before.
* ``exchange_sources`` is the receiving side's checkpoint per (bank, source): the last bundle
  sequence applied from a peer, or the StopNCII fetch checkpoint. It is written in the same
  transaction as the entries it covers, so a crash never skips or repeats part of a fetch.
* ``exchange_links`` maps a source's own id for an item (a peer's entry id, StopNCII's
  signal type + hash) to the local entry, so a later update or withdrawal finds its entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashwall.store.models import Base, BigId, utcnow


class ExchangeOrigin(Base):
    __tablename__ = "exchange_origins"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True
    )
    origin: Mapped[str] = mapped_column(String(36), unique=True)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)


class ExchangeSource(Base):
    __tablename__ = "exchange_sources"
    __table_args__ = (UniqueConstraint("bank_id", "origin", name="uq_exchange_source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    #: ``bundle:<peer origin>``, ``stopncii`` or ``pytx``.
    origin: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ExchangeLink(Base):
    __tablename__ = "exchange_links"
    __table_args__ = (UniqueConstraint("bank_id", "origin", "remote_id", name="uq_exchange_link"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(100))
    remote_id: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
