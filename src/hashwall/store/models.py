"""Tables of the matching service.

Design notes (why, not what):

* ``entry_signals`` holds one row per matchable value - the PDQ hash *and* its borderless
  variant are two rows - so the in-memory index is a straight load of this table, keyed by row id.
* ``changes`` is an append-only log with a monotonic id. Every write that alters what matches
  (entry added, state changed, bank edited, bulk import committed) appends a row in the same
  transaction, and every worker process tails it to keep its index in step with the database.
* A bulk import writes its entries and flips its job to ``complete`` in one transaction, so a
  killed import leaves nothing behind; ``(bank_id, idempotency_key)`` is unique, so a retried
  import is never stored twice.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big banks.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class EntryState(enum.StrEnum):
    """StopNCII's entry states; only ``active`` entries match."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"
    QUARANTINED = "quarantined"  # matched too many distinct items: held for review


class ChangeKind(enum.StrEnum):
    ENTRY = "entry"  # an entry was added or changed state: re-read it
    BANK = "bank"  # a bank was created or edited: re-read its settings
    IMPORT = "import"  # a bulk import committed: load all entries of the job
    CATALOG = "catalog"  # a catalog item was added or removed: re-read it
    CATALOG_IMPORT = "catalog_import"  # a catalog bulk import committed: load its items


class ImportStatus(enum.StrEnum):
    COMPLETE = "complete"


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable and readable in SQL.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Entries of a negative bank are known false positives: they suppress matches.
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    #: PDQ distance threshold for this bank (at most Meta's 31; may be stricter).
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=31)
    action: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Flood quarantine: distinct items per hour above which an entry is quarantined
    #: (``None``: the ``HASHWALL_FLOOD_THRESHOLD`` setting).
    flood_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Where the entries come from when the public can add them without an account:
    #: ``portal`` or ``takedown`` (a system bank); ``None``: curated through the API. Their
    #: matches lead to human review only unless ``public_actions`` (docs/security.md).
    entry_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: An operator's opt-in: matches of this public bank may trigger automatic actions.
    public_actions: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: New public entries wait in quarantine until a reviewer reinstates them.
    review_new_entries: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def review_only(self) -> bool:
        """Public entries without the operator's opt-in: a match asks for human review."""
        return self.entry_source is not None and not self.public_actions


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (Index("ix_entries_bank_state", "bank_id", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    state: Mapped[EntryState] = mapped_column(
        _enum(EntryState, "entry_state"), default=EntryState.ACTIVE
    )
    content_type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    #: Indexed: a removal request's entries are found by it (migration 0009).
    case_ref: Mapped[str] = mapped_column(String(200), default="", index=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    import_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_jobs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    signals: Mapped[list[EntrySignal]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="EntrySignal.id"
    )


class EntrySignal(Base):
    """One matchable value of an entry: ``variant`` is ``original`` or ``borderless``.

    vPDQ values are stored as the JSON list of frames (``hashwall hash`` form, with borderless
    frame hashes), which Meta's text format cannot carry.
    """

    __tablename__ = "entry_signals"
    #: Row ids are the in-memory index's ids, so SQLite must never hand a deleted row's id
    #: to a new row (it reuses the largest without AUTOINCREMENT); see migration 0011.
    __table_args__ = (
        Index("ix_entry_signals_value", "signal_type", "value_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    variant: Mapped[str] = mapped_column(String(16), default="original")
    value: Mapped[str] = mapped_column(Text)
    #: First 64 characters of the value: an indexable lookup key (whole value for hashes).
    value_key: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)

    entry: Mapped[Entry] = relationship(back_populates="signals")


class ApiKey(Base):
    """An API key: only an HMAC of the key is stored; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    #: The first characters of the key, so an operator can tell keys apart in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    #: The banks this key may change (``None``: all); see ``Principal.may_change``.
    bank_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReviewSession(Base):
    """A reviewer's log-in: the cookie is only valid while its row exists.

    Why: a signed cookie alone could not be taken back, so logging out left it working until
    it expired (8 h). Log-out deletes the row, revoking the key deletes all of its rows, and
    a replayed cookie then finds none. Only a SHA-256 of the cookie's random session id is
    stored, so reading this table gives no usable session."""

    __tablename__ = "review_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Change(Base):
    """Append-only log that worker processes tail to keep their in-memory index current."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[ChangeKind] = mapped_column(_enum(ChangeKind, "change_kind"))
    #: Entry id, bank id or import job id, depending on ``kind``.
    target_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportJob(Base):
    """A committed bulk import. It only exists once all its entries do (one transaction)."""

    __tablename__ = "import_jobs"
    __table_args__ = (UniqueConstraint("bank_id", "idempotency_key", name="uq_import_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[ImportStatus] = mapped_column(
        _enum(ImportStatus, "import_status"), default=ImportStatus.COMPLETE
    )
    format: Mapped[str] = mapped_column(String(16))
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MatchRecord(Base):
    """One match the API reported: which query, bank, entry, signal and distance."""

    __tablename__ = "match_records"
    #: A sweep links an entry to a catalog item once, however often it is re-run.
    __table_args__ = (
        UniqueConstraint("entry_id", "catalog_item_id", name="uq_match_entry_catalog"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    query_kind: Mapped[str] = mapped_column(String(16))  # "hashes" or "upload"
    query_label: Mapped[str] = mapped_column(String(500), default="")
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    #: Looked up through ``uq_match_entry_catalog`` (entry_id first): no index of its own.
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer)
    query_variant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The catalog item of a sweep match ("known identical copy"); ``None`` for API queries.
    catalog_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="CASCADE"), nullable=True, index=True
    )
    #: What makes the matched item distinct, for flood quarantine (digest or hash of the query).
    query_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
