"""Tables of the platform catalog and the retroactive sweep.

Design notes (why, not what):

* ``catalog_items`` are the platform's *own* hosted items. They are kept apart from bank
  entries because they are not prohibited content: they are what gets checked against the
  banks, both when they are registered and whenever a new bank entry arrives.
* ``catalog_signals`` mirrors ``entry_signals`` but also stores the eight rotations/flips of
  each PDQ hash (``variant`` ``rotate90``, ``borderless+flipx``, ...). A catalog item plays the
  *query* side of a match, and the query side is where the match API covers rotations; keeping
  them lets a sweep started by a new entry find a rotated copy exactly as the match API would.
* ``sweep_jobs`` rows are written in the same transaction as what they sweep (an entry, a bulk
  import, a catalog item, a catalog import): a committed import always has a pending sweep, so
  a crash between commit and sweep is finished at the next start instead of being forgotten.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hashwall.store.models import Base, BigId, _enum, utcnow


class CatalogState(enum.StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"  # taken down by the platform: hashes erased, no longer swept


class SweepKind(enum.StrEnum):
    ENTRY = "entry"  # one new bank entry against the whole catalog
    IMPORT = "import"  # every entry of a bulk import
    BANK = "bank"  # every active entry of a bank (POST /v1/banks/{id}/sweep)
    CATALOG = "catalog"  # one new catalog item against every bank
    CATALOG_IMPORT = "catalog_import"  # every item of a catalog bulk import


class SweepStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"


class CatalogImport(Base):
    """A committed catalog bulk import; exists only once all its items do."""

    __tablename__ = "catalog_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    format: Mapped[str] = mapped_column(String(16))
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CatalogItem(Base):
    __tablename__ = "catalog_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The platform's own identifier of the item (one platform per hashwall instance).
    content_id: Mapped[str] = mapped_column(String(500), unique=True)
    url: Mapped[str] = mapped_column(String(2000), default="")
    state: Mapped[CatalogState] = mapped_column(
        _enum(CatalogState, "catalog_state"), default=CatalogState.ACTIVE
    )
    content_type: Mapped[str] = mapped_column(String(16))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_imports.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    signals: Mapped[list[CatalogSignal]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="CatalogSignal.id"
    )


class CatalogSignal(Base):
    __tablename__ = "catalog_signals"
    #: Row ids are the catalog index's ids: never reused on SQLite either (migration 0011).
    __table_args__ = (
        Index("ix_catalog_signals_value", "signal_type", "value_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="CASCADE"), index=True
    )
    signal_type: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(32), default="original")
    value: Mapped[str] = mapped_column(Text)
    value_key: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)

    item: Mapped[CatalogItem] = relationship(back_populates="signals")


class SweepJob(Base):
    """Work for the retroactive sweep; ``pending`` ones are finished at start-up."""

    __tablename__ = "sweep_jobs"
    __table_args__ = (Index("ix_sweep_jobs_status", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[SweepKind] = mapped_column(_enum(SweepKind, "sweep_kind"))
    target_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[SweepStatus] = mapped_column(
        _enum(SweepStatus, "sweep_status"), default=SweepStatus.PENDING
    )
    api_key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    new_matches: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
