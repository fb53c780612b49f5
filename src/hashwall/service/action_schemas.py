"""Request and response bodies of the catalog, sweep, review, webhook and quarantine APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from hashwall.service.schemas import (
    EntryOut,
    EntrySignalOut,
    MatchRecordOut,
    Metadata,
    SignalIn,
    Strict,
    Text,
)
from hashwall.service.urls import url_problem

ContentId = Annotated[Text, Field(min_length=1, max_length=500)]


def _web_url(value: str) -> str:
    problem = url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: A stored, reviewer-facing link: empty, or http(s) only (``hashwall.service.urls``).
Url = Annotated[Text, Field(max_length=2000), AfterValidator(_web_url)]


class CatalogItemCreate(Strict):
    """One hosted item: ``content_id`` (yours, unique), ``url``, and ``hashes`` (one value per
    signal type) or a ``hashwall hash`` ``record``."""

    content_id: ContentId
    url: Url = ""
    hashes: Annotated[list[SignalIn], Field(min_length=1, max_length=8)] | None = None
    record: dict[str, Any] | None = None
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_form(self) -> CatalogItemCreate:
        if (self.hashes is None) == (self.record is None):
            raise ValueError("give exactly one of 'hashes' or 'record'")
        return self


class CatalogItemOut(BaseModel):
    id: int
    content_id: str
    url: str
    state: Literal["active", "removed"]
    content_type: str
    metadata: dict[str, Any]
    import_id: int | None
    signals: list[EntrySignalOut] = Field(
        description="Stored hashes (rotations/flips of PDQ are stored too but not listed)."
    )
    created_at: datetime
    updated_at: datetime


class SweepOut(BaseModel):
    job_id: int
    status: Literal["done", "pending"] = Field(
        "done",
        description="`pending`: the write is committed but its sweep could not run now; "
        "it is finished in the background (the counts are then 0).",
    )
    checked: int = Field(description="Entries or catalog items swept.")
    new_matches: int
    match_record_ids: list[int]


class CatalogItemCreated(CatalogItemOut):
    sweep: SweepOut


class CatalogItemList(BaseModel):
    items: list[CatalogItemOut]
    next_after_id: int | None


class CatalogImportOut(BaseModel):
    id: int
    idempotency_key: str
    format: str
    item_count: int
    created: bool = Field(description="False when this key was already imported (nothing added).")
    created_at: datetime
    sweep: SweepOut | None


class ReviewOut(BaseModel):
    id: int
    status: Literal["pending", "confirmed", "false_positive"]
    bank_id: int
    match_record: MatchRecordOut
    claimed_by: int | None
    claimed_at: datetime | None
    decided_by: int | None
    decided_at: datetime | None
    note: str
    negative_entry_id: int | None
    created_at: datetime


class ReviewList(BaseModel):
    reviews: list[ReviewOut]
    next_after_id: int | None


class ReviewDecision(Strict):
    decision: Literal["confirmed", "false_positive"]
    note: Annotated[Text, Field(max_length=2000)] = ""
    negative_bank_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        default=None,
        description="For a false positive: add the matched item's hashes to this negative bank.",
    )


class WebhookCreate(Strict):
    url: Annotated[Text, Field(min_length=1, max_length=2000, examples=["https://t.example/h"])]
    secret: Annotated[Text, Field(min_length=16, max_length=200)] | None = Field(
        default=None, description="HMAC key; generated when omitted. Shown only once."
    )


class WebhookOut(BaseModel):
    id: int
    bank_id: int
    url: str
    enabled: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret. It is shown only this once.")


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    match_record_id: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    next_after_id: int | None


class QuarantinedOut(BaseModel):
    entry: EntryOut
    quarantine_id: int
    distinct_items: int
    threshold: int
    quarantined_at: datetime


class QuarantineList(BaseModel):
    entries: list[QuarantinedOut]
    next_after_id: int | None


class QuarantineDecisionIn(Strict):
    decision: Literal["reinstate", "delete"]
