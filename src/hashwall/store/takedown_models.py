"""Tables of platform-side removal requests (issue 5): the case, its removal tasks, its sweep.

Design notes (why, not what):

* ``removal_requests`` keeps the validated request as JSON *and* the few fields the queue
  sorts and filters on (state, due time) as columns; the audit chain (``audit_log``) holds
  the history, this row only the present state. ``due_at`` is fixed at intake: a later change
  of the configured deadlines must not move the deadline of a request already received.
* ``removal_tasks`` has one row per catalog copy found, unique per (case, catalog item), so a
  re-run sweep never creates a second task. The row also carries its own webhook delivery
  state (attempts, next attempt, claim version) because the takedown webhook is configured
  per platform, not per bank, and a task is only ``confirmed`` by the platform's API call.
* ``takedown_jobs`` is committed in the same transaction as the case: a server killed between
  intake and sweep leaves a pending job that the next start (and a periodic loop) finishes.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

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
)
from sqlalchemy.orm import Mapped, mapped_column

from hashwall.store.models import Base, BigId, _enum, utcnow

#: The case states of :mod:`hashwall.cases.states` (kept here as strings so the store does
#: not import the cases package); the migration's CHECK constraint lists the same values.
CASE_STATES = (
    "received",
    "under_review",
    "actioned",
    "rejected",
    "requester_notified",
    "appealed",
    "withdrawn",
    "closed",
)


class TaskStatus(enum.StrEnum):
    PENDING = "pending"  # the takedown webhook has not accepted it yet (or is not configured)
    SENT = "sent"  # the webhook answered 2xx: the platform has it, removal not yet confirmed
    CONFIRMED = "confirmed"  # the platform confirmed the removal through the API (done)
    FAILED = "failed"  # every webhook attempt failed; the platform may still confirm it


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"


def case_state_enum() -> Enum:
    return Enum(
        *CASE_STATES,
        name="removal_state",
        native_enum=False,
        create_constraint=True,
        length=24,
    )


class RemovalRequestRow(Base):
    __tablename__ = "removal_requests"
    __table_args__ = (Index("ix_removal_requests_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(case_state_enum(), default="received")
    jurisdiction: Mapped[str] = mapped_column(String(2))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    statutory: Mapped[bool] = mapped_column(Boolean)
    requester_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    #: The validated request (``RemovalRequest.model_dump(mode="json")``).
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Name of the uploaded copy (the file itself is hashed and never stored).
    upload_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appeals: Mapped[int] = mapped_column(Integer, default=0)
    #: First decision (action, reject or withdraw): what "met"/"missed" is measured by.
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: When the escalation webhook was triggered (set once; never fires twice).
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Delivery of that escalation: pending/sent/failed (null while not escalated).
    escalation_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    escalation_attempts: Mapped[int] = mapped_column(Integer, default=0)
    escalation_next_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    escalation_error: Mapped[str] = mapped_column(String(500), default="")
    claim_version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class RemovalTask(Base):
    __tablename__ = "removal_tasks"
    __table_args__ = (
        UniqueConstraint("request_id", "catalog_item_id", name="uq_removal_task_item"),
        Index("ix_removal_tasks_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("removal_requests.id", ondelete="CASCADE"), index=True
    )
    catalog_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="SET NULL"), nullable=True
    )
    content_id: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(2000), default="")
    signal: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer)
    query_variant: Mapped[str] = mapped_column(String(32), default="")
    match_record_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[TaskStatus] = mapped_column(
        _enum(TaskStatus, "removal_task_status"), default=TaskStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Null until the case is actioned: nothing is sent before a reviewer decides.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    claim_version: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TakedownJob(Base):
    """The sweep of one case: its bank entries against the catalog, then one task per copy."""

    __tablename__ = "takedown_jobs"
    __table_args__ = (Index("ix_takedown_jobs_status", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("removal_requests.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "takedown_job_status"), default=JobStatus.PENDING
    )
    entry_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    sweep_job_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    tasks_created: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
