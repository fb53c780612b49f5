"""Request and response bodies of the v1 API (they define the OpenAPI schema at /docs)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from hashwall.signals import pdq, vpdq

_MAX_METADATA_BYTES = 16 * 1024


def _no_control_characters(value: str) -> str:
    # PostgreSQL rejects NUL in text; other control characters only confuse reviewers.
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ValueError("must not contain control characters")
    return value


def _metadata_size(value: dict[str, Any]) -> dict[str, Any]:
    encoded = json.dumps(value, ensure_ascii=False)
    if len(encoded.encode()) > _MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {_MAX_METADATA_BYTES} bytes as JSON")
    if "\\u0000" in encoded:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_control_characters)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata_size)]
Threshold = Annotated[int, Field(ge=0, le=pdq.DISTANCE_THRESHOLD)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------- banks


class BankCreate(Strict):
    name: Name
    description: Annotated[Text, Field(max_length=2000)] = ""
    negative: bool = Field(
        default=False, description="Entries of a negative bank suppress matches (false positives)."
    )
    pdq_threshold: Threshold = Field(
        default=pdq.DISTANCE_THRESHOLD,
        description="Largest PDQ distance that matches in this bank (Meta's 31 or stricter).",
    )
    action: Annotated[Text, Field(max_length=200)] | None = Field(
        default=None,
        description="What a match in this bank triggers: 'review', 'webhook' or both "
        "('review+webhook'); other values trigger nothing.",
    )
    enabled: bool = True
    flood_threshold: Annotated[int, Field(ge=1, le=10**9)] | None = Field(
        default=None,
        description="Quarantine an entry matching more distinct items per hour than this "
        "(default: the server's HASHWALL_FLOOD_THRESHOLD).",
    )


class BankUpdate(Strict):
    name: Name | None = None
    description: Annotated[Text, Field(max_length=2000)] | None = None
    pdq_threshold: Threshold | None = None
    action: Annotated[Text, Field(max_length=200)] | None = None
    enabled: bool | None = None
    flood_threshold: Annotated[int, Field(ge=1, le=10**9)] | None = None
    public_actions: bool | None = Field(
        default=None,
        description="Admin only: let matches of this public bank trigger automatic actions "
        "(webhooks) and count as `matched`.",
    )
    review_new_entries: bool | None = Field(
        default=None, description="Admin only: hold new public entries for review."
    )


class BankOut(BaseModel):
    id: int
    name: str
    description: str
    negative: bool
    pdq_threshold: int
    action: str | None
    enabled: bool
    flood_threshold: int | None = None
    entry_source: str | None = Field(
        default=None,
        description="'portal' or 'takedown' for the banks the public fills; null: curated.",
    )
    public_actions: bool = Field(
        default=False, description="Admin opt-in: this public bank's matches may act on their own."
    )
    review_new_entries: bool = Field(
        default=False, description="New public entries wait in quarantine for a reviewer."
    )
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------------- entries


class SignalIn(Strict):
    signal_type: Annotated[str, Field(max_length=32, examples=["pdq"])]
    signal_value: Annotated[str, Field(max_length=4_000_000)]
    quality: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None, description="PDQ quality of the hash, when known (default 100)."
    )


class EntryCreate(Strict):
    """Either ``hashes`` (one value per signal type of one item) or a ``record`` as written by
    ``hashwall hash``."""

    hashes: Annotated[list[SignalIn], Field(min_length=1, max_length=8)] | None = None
    record: dict[str, Any] | None = None
    label: Annotated[Text, Field(max_length=500)] = ""
    source: Annotated[Text, Field(max_length=500)] = ""
    case_ref: Annotated[Text, Field(max_length=200)] = ""
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_form(self) -> EntryCreate:
        if (self.hashes is None) == (self.record is None):
            raise ValueError("give exactly one of 'hashes' or 'record'")
        return self


class EntrySignalOut(BaseModel):
    signal_type: str
    variant: str
    value: str
    quality: int | None


class EntryOut(BaseModel):
    id: int
    bank_id: int
    state: Literal["active", "withdrawn", "deleted", "quarantined"]
    content_type: str
    label: str
    source: str
    case_ref: str
    metadata: dict[str, Any]
    import_job_id: int | None
    signals: list[EntrySignalOut]
    created_at: datetime
    updated_at: datetime


class EntryCreated(EntryOut):
    """A new entry: committed and matchable when answered, whatever ``sweep`` says."""

    sweep: Literal["done", "pending"] = Field(
        description="`done`: known copies in the catalog were linked before the answer; "
        "`pending`: that could not run now and is finished in the background."
    )


class EntryList(BaseModel):
    entries: list[EntryOut]
    next_after_id: int | None


class ImportOut(BaseModel):
    id: int
    bank_id: int
    idempotency_key: str
    status: str
    format: str
    entry_count: int
    created: bool = Field(description="False when this key was already imported (nothing added).")
    created_at: datetime
    sweep: Literal["done", "pending"] = Field(
        description="Whether the retroactive sweep against the catalog finished before this "
        "answer; 'pending': the server finishes it in the background (the import itself is "
        "committed and matchable either way)."
    )


# ---------------------------------------------------------------------- matching


class MatchThresholds(Strict):
    """Per-request thresholds: they may only be stricter than the defaults."""

    max_distance: int | None = Field(
        default=None, description="PDQ/vPDQ frame distance, at most 31 (Meta's default)."
    )
    min_quality: int | None = Field(
        default=None, description="Minimum PDQ quality of query hashes, 50-100."
    )
    min_query_match_percent: float | None = Field(
        default=None, description="vPDQ: share of the query's frames that must match, 80-100."
    )

    @field_validator("max_distance")
    @classmethod
    def _distance(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= pdq.DISTANCE_THRESHOLD:
            raise ValueError(f"may only tighten the threshold: must be 0-{pdq.DISTANCE_THRESHOLD}")
        return value

    @field_validator("min_quality")
    @classmethod
    def _quality(cls, value: int | None) -> int | None:
        if value is not None and not pdq.QUALITY_THRESHOLD <= value <= 100:
            raise ValueError(f"may only tighten the threshold: must be {pdq.QUALITY_THRESHOLD}-100")
        return value

    @field_validator("min_query_match_percent")
    @classmethod
    def _percent(cls, value: float | None) -> float | None:
        if value is not None and not vpdq.QUERY_MATCH_PERCENT <= value <= 100:
            raise ValueError(
                f"may only tighten the threshold: must be {vpdq.QUERY_MATCH_PERCENT:g}-100"
            )
        return value


class MatchQuery(Strict):
    """One item to check: a single hash, several hashes of the item, or a ``hashwall hash``
    record."""

    id: Annotated[Text, Field(max_length=200)] | None = Field(
        default=None, description="Your reference for this item, echoed in the result."
    )
    signal_type: Annotated[str, Field(max_length=32)] | None = None
    signal_value: Annotated[str, Field(max_length=4_000_000)] | None = None
    hashes: Annotated[list[SignalIn], Field(min_length=1, max_length=8)] | None = None
    record: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> MatchQuery:
        forms = [
            self.signal_type is not None or self.signal_value is not None,
            self.hashes is not None,
            self.record is not None,
        ]
        if sum(forms) != 1:
            raise ValueError("give one of 'signal_type'+'signal_value', 'hashes' or 'record'")
        if forms[0] and (self.signal_type is None or self.signal_value is None):
            raise ValueError("'signal_type' and 'signal_value' go together")
        return self


class MatchHashesRequest(MatchThresholds):
    queries: Annotated[list[MatchQuery], Field(min_length=1, max_length=1000)]
    banks: Annotated[list[Name], Field(max_length=100)] | None = Field(
        default=None, description="Only these banks (by name); negative banks always apply."
    )


class MatchOut(BaseModel):
    entry_id: int
    entry_state: str
    entry_source: str = Field(
        description="Where the entry came from: 'curated' (added with an API key), or "
        "'portal' / 'takedown' (added by the public, without an account)."
    )
    signal: str
    distance: int
    query_variant: str
    stored_variant: str | None = None
    query_match_percent: float | None = None
    compared_match_percent: float | None = None


class BankMatches(BaseModel):
    bank_id: int
    bank: str
    action: str | None
    entry_source: str = Field(description="As in each match: 'curated', 'portal', 'takedown'.")
    review_only: bool = Field(
        description="Entries the public added and no operator vouched for: a match here asks "
        "for human review and does not make `matched` true (docs/security.md)."
    )
    matches: list[MatchOut]


class QueryResult(BaseModel):
    query: int
    id: str | None = None
    filename: str | None = None
    matched: bool = Field(
        description="A match in a bank whose matches may be acted on automatically."
    )
    needs_review: bool = Field(
        description="A match in a review-only bank: send the item to human review; do not "
        "remove it automatically on this alone."
    )
    banks: list[BankMatches]
    negative: list[BankMatches] = Field(
        description="Negative-bank entries that matched; they suppressed matches of their variant."
    )
    suppressed: int


class MatchResponse(BaseModel):
    request_id: str
    results: list[QueryResult]


class MatchRecordOut(BaseModel):
    id: int
    request_id: str
    query_kind: str
    query_label: str
    bank_id: int
    entry_id: int
    signal_type: str
    distance: int
    query_variant: str | None
    details: dict[str, Any]
    catalog_item_id: int | None = None
    created_at: datetime


class MatchRecordList(BaseModel):
    records: list[MatchRecordOut]
    next_after_id: int | None


# ---------------------------------------------------------------------- keys


class KeyCreate(Strict):
    role: Literal["hasher", "matcher", "curator", "reviewer", "admin", "likeness"]
    name: Annotated[Text, Field(max_length=200)] = ""
    banks: (
        Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(max_length=1000)] | None
    ) = Field(
        default=None,
        description="Bank ids this key may change (entries, imports, settings, webhooks); "
        "omitted: all banks. A limited key cannot create banks.",
    )

    @model_validator(mode="after")
    def _admins_are_not_limited(self) -> KeyCreate:
        if self.banks is not None and self.role == "admin":
            raise ValueError("an admin key cannot be limited to banks")
        return self


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    role: str
    banks: list[int] | None = Field(
        default=None,
        validation_alias=AliasChoices("bank_ids", "banks"),
        description="The banks it may change; null: all.",
    )
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The API key. It is shown only this once.")
