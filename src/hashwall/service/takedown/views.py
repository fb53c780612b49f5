"""Results of the takedown API: plain frozen dataclasses, so the reviewer UI, the JSON routes
and tests read the same objects and nothing leaks a database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class TakedownReceipt:
    """The case number and the deadline (what the requester sees), and for the platform's
    own code the copies found by the sweep: ``tasks_created`` never goes into the public
    answer, since it would tell the requester what the catalog hosts."""

    case_id: str
    received_at: datetime
    due_at: datetime
    statutory_deadline: bool  # due_at itself is set by law (else: the platform's target)
    jurisdiction: str
    tasks_created: int
    legal_due_at: datetime | None = None  # the soonest legal deadline; None: no law fixes one
    deadline_basis: str = ""  # the statute or target behind due_at (docs/legal.md)
    under_18: bool = False  # the receipt points to the services made for under-18 images


@dataclass(frozen=True)
class RequestSummary:
    """One line of the reviewer queue."""

    case_id: str
    state: str
    jurisdiction: str
    requester_name: str
    received_at: datetime
    due_at: datetime
    deadline_state: str  # due, soon_due, overdue (open) or met, missed (decided)
    time_left: timedelta  # negative once overdue
    tasks_total: int
    tasks_confirmed: int
    statutory_deadline: bool = True
    escalated_at: datetime | None = None


@dataclass(frozen=True)
class TaskView:
    id: int
    content_id: str
    url: str
    signal: str
    distance: int
    status: str
    attempts: int
    last_error: str
    confirmed_at: datetime | None
    query_variant: str = ""
    catalog_item_id: int | None = None
    sent_at: datetime | None = None
    confirmed_by: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """One audit entry of the case, as the case page shows it."""

    at: datetime
    actor: str
    action: str
    details: dict[str, Any]
    seq: int = 0


@dataclass(frozen=True)
class RequestDetail(RequestSummary):
    request: dict[str, Any] = field(default_factory=dict)
    tasks: list[TaskView] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    allowed_events: list[str] = field(default_factory=list)
    rejection_reason: str | None = None
    decided_at: datetime | None = None
    appeals: int = 0
    upload_name: str | None = None
