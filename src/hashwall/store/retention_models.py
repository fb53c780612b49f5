"""What stays of match records once they are past their retention: counts.

Every match the API reports is a ``match_records`` row; at 1,000 matches/s that is 86M rows a
day, and the table's growth slowed matching (issue 20). Records past
``HASHWALL_MATCH_RECORD_RETENTION_DAYS`` are deleted in small batches (service/retention.py),
and what the survivor's status page and the operator still need from them, how often each
platform matched each entry and how many of those it reported removed, is added here first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashwall.store.models import Base, BigId

#: ``api_key_id`` of records made without a key (sweeps): NULL cannot be part of the key.
NO_KEY = 0


class MatchRollup(Base):
    """Pruned match records of one entry, bank and API key, counted."""

    __tablename__ = "match_rollups"
    __table_args__ = (
        UniqueConstraint("entry_id", "bank_id", "api_key_id", name="uq_match_rollup"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    #: The key the platform matched with (not a foreign key: kept when the key is deleted,
    #: as the status page numbers platforms by it); :data:`NO_KEY` for none.
    api_key_id: Mapped[int] = mapped_column(BigInteger)
    #: The earliest pruned record: orders platforms on the status page as records do.
    first_record_id: Mapped[int] = mapped_column(BigInteger)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    matches: Mapped[int] = mapped_column(BigInteger)
    removals: Mapped[int] = mapped_column(BigInteger)
