"""JSON shapes of the takedown routes (the Python API returns dataclasses; these mirror them
with ``seconds_left`` instead of a timedelta, which JSON has no type for)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hashwall.service.takedown.views import RequestDetail, RequestSummary, TakedownReceipt


class ReceiptOut(BaseModel):
    """The public answer. It says nothing about what the catalog holds (no copies found, no
    unknown ids), so it is the same whether or not the named content is hosted here."""

    case_id: str
    received_at: datetime
    due_at: datetime
    statutory_deadline: bool = Field(
        description="True when due_at is a legal deadline; False when it is the platform's "
        "internal target (the law fixes no hour count, or a stricter target applies)."
    )
    jurisdiction: str = Field(description="Where the requester lives: chooses the laws cited.")
    legal_due_at: datetime | None = Field(
        description="The soonest legal deadline among the platform's regimes; null: none."
    )
    deadline_basis: str = Field(description="The statute or internal target behind due_at.")
    under_18: bool


class SummaryOut(BaseModel):
    case_id: str
    state: str
    jurisdiction: str
    requester_name: str
    received_at: datetime
    due_at: datetime
    deadline_state: str = Field(description="due, soon_due, overdue, met or missed")
    seconds_left: int = Field(description="Until the deadline; negative once overdue.")
    tasks_total: int
    tasks_confirmed: int
    statutory_deadline: bool
    escalated_at: datetime | None


class SummaryList(BaseModel):
    requests: list[SummaryOut]


class TaskOut(BaseModel):
    id: int
    content_id: str
    url: str
    signal: str
    distance: int
    status: str
    attempts: int
    last_error: str
    confirmed_at: datetime | None
    query_variant: str
    catalog_item_id: int | None
    sent_at: datetime | None
    confirmed_by: str | None


class TimelineOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


class DetailOut(SummaryOut):
    request: dict[str, Any]
    tasks: list[TaskOut]
    timeline: list[TimelineOut]
    allowed_events: list[str]
    rejection_reason: str | None
    decided_at: datetime | None
    appeals: int
    upload_name: str | None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, max_length=32, description="e.g. start_review, action")
    reason: str | None = Field(default=None, max_length=2000)
    legal_ground: str | None = Field(
        default=None,
        max_length=500,
        description="With an action: the national provision relied on, cited in the "
        "statement of reasons (needed for EU cases; default HASHWALL_TAKEDOWN_EU_LEGAL_GROUND).",
    )


class RegulatorNoticeIn(BaseModel):
    """An eSafety removal notice the platform received about a case's content."""

    model_config = ConfigDict(extra="forbid")

    given_at: datetime = Field(
        description="When eSafety gave the notice (with a time zone): the 24 hours run from it."
    )
    period_hours: int = Field(
        default=24,
        ge=24,
        le=24 * 90,
        description="24, or the longer period the Commissioner allowed in the notice.",
    )
    reference: str | None = Field(default=None, max_length=200, description="eSafety's reference.")


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


def receipt_out(receipt: TakedownReceipt) -> ReceiptOut:
    public = {
        name: value for name, value in asdict(receipt).items() if name in ReceiptOut.model_fields
    }
    return ReceiptOut(**public)


def _summary_dict(summary: RequestSummary) -> dict[str, Any]:
    data = {
        name: getattr(summary, name) for name in SummaryOut.model_fields if name != "seconds_left"
    }
    data["seconds_left"] = int(summary.time_left.total_seconds())
    return data


def summary_out(summary: RequestSummary) -> SummaryOut:
    return SummaryOut(**_summary_dict(summary))


def detail_out(detail: RequestDetail) -> DetailOut:
    return DetailOut(
        **_summary_dict(detail),
        request=detail.request,
        tasks=[TaskOut(**asdict(task)) for task in detail.tasks],
        timeline=[TimelineOut(**asdict(entry)) for entry in detail.timeline],
        allowed_events=detail.allowed_events,
        rejection_reason=detail.rejection_reason,
        decided_at=detail.decided_at,
        appeals=detail.appeals,
        upload_name=detail.upload_name,
    )


def prometheus_text(metrics: dict[str, int]) -> str:
    """The metrics in Prometheus' text exposition format (one gauge per name)."""
    lines = []
    for name, value in metrics.items():
        metric = f"hashwall_takedown_{name}"
        lines.append(f"# TYPE {metric} gauge")
        lines.append(f"{metric} {value}")
    return "\n".join(lines) + "\n"
