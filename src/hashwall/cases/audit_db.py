"""The audit chain in the service database: table ``audit_log``.

The table uses the service's declarative ``Base`` so the service's Alembic migrations own it
(the migration is sequenced separately). Why the columns look the way they do:

* ``at`` and ``data`` are stored as the exact text that was hashed (ISO string, canonical
  JSON) rather than DateTime/JSON columns, so a database's type round-trip (SQLite dropping
  time zones, JSONB reordering keys) can never make an intact chain look broken;
* ``seq`` is the primary key: two writers that read the same head collide on it, and the
  loser retries on the new head, so the chain never forks.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from hashwall.cases.audit import (
    AuditEntry,
    AuditFormatError,
    ChainHead,
    Item,
    canonical_json,
    make_entry,
)
from hashwall.cases.clock import Clock, SystemClock
from hashwall.store.models import Base

APPEND_RETRIES = 20


class AuditLogRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_log_case_id", "case_id"),)

    def to_item(self) -> Item:
        try:
            data = json.loads(self.data)
        except ValueError as error:
            return AuditFormatError(f"data is not JSON: {error}")
        if not isinstance(data, dict):
            return AuditFormatError("data is not a JSON object")
        return AuditEntry(
            seq=self.seq,
            at=self.at,
            case_id=self.case_id,
            actor=self.actor,
            action=self.action,
            data=data,
            prev_hash=self.prev_hash,
            hash=self.hash,
        )


def row_from_entry(entry: AuditEntry) -> AuditLogRow:
    return AuditLogRow(
        seq=entry.seq,
        at=entry.at,
        case_id=entry.case_id,
        actor=entry.actor,
        action=entry.action,
        data=canonical_json(entry.data).decode("utf-8"),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def append_in_session(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append inside the caller's transaction, so a state change and its audit entry commit
    together (or not at all). A concurrent append makes the commit fail on ``seq``; the caller
    retries the whole transaction."""
    last = session.scalars(select(AuditLogRow).order_by(AuditLogRow.seq.desc()).limit(1)).first()
    previous = None
    if last is not None:
        item = last.to_item()
        if isinstance(item, AuditFormatError):
            raise AuditFormatError(f"audit_log seq {last.seq} is unreadable: {item}")
        previous = item
    entry = make_entry(
        previous, at=clock.now(), actor=actor, action=action, case_id=case_id, data=data
    )
    session.add(row_from_entry(entry))
    session.flush()
    return entry


class SqlAuditStore:
    """Standalone appends (own transaction, retried on a ``seq`` collision) and reads."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock | None = None) -> None:
        self.sessions = sessions
        self.clock = clock or SystemClock()

    def append(
        self,
        *,
        actor: str,
        action: str,
        case_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        for attempt in range(APPEND_RETRIES):
            try:
                with self.sessions() as session, session.begin():
                    return append_in_session(
                        session, self.clock, actor=actor, action=action, case_id=case_id, data=data
                    )
            except (IntegrityError, OperationalError) as error:
                # IntegrityError: another writer took this seq. OperationalError: SQLite's
                # "database is locked" when two read-then-write transactions meet (WAL refuses
                # the second upgrade at once, without waiting). Both: re-read the head, retry.
                locked = isinstance(error, OperationalError) and "locked" in str(error.orig)
                if attempt == APPEND_RETRIES - 1 or not (
                    locked or isinstance(error, IntegrityError)
                ):
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    def items(self) -> Iterator[Item]:
        with self.sessions() as session:
            rows = session.scalars(select(AuditLogRow).order_by(AuditLogRow.seq)).all()
            items = [row.to_item() for row in rows]
        yield from items

    def entries_for_case(self, case_id: str) -> list[AuditEntry]:
        with self.sessions() as session:
            rows = session.scalars(
                select(AuditLogRow).where(AuditLogRow.case_id == case_id).order_by(AuditLogRow.seq)
            ).all()
            items = [row.to_item() for row in rows]
        return [item for item in items if isinstance(item, AuditEntry)]

    def head(self) -> ChainHead | None:
        with self.sessions() as session:
            last = session.scalars(
                select(AuditLogRow).order_by(AuditLogRow.seq.desc()).limit(1)
            ).first()
            return None if last is None else ChainHead(last.seq, last.hash)
