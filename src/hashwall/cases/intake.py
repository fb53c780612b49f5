"""Validating a removal request and issuing its receipt.

The whole request is validated before anything is written: the caller gets either a receipt
(case number, deadline) with one ``case.received`` audit entry, or a list of ``FieldError`` -
one clear message per field - and nothing stored. The statement texts a requester confirms are
fixed here so the record shows exactly what was affirmed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hashwall.cases.audit import AuditStore
from hashwall.cases.clock import Clock, require_aware
from hashwall.cases.deadlines import Deadline, DeadlineConfig, Jurisdiction, request_deadline
from hashwall.cases.uk_report import uk_report_gaps
from hashwall.signals.base import InvalidSignalValue
from hashwall.signals.registry import get_signal

#: 47 U.S.C. s. 223a(a)(1)(B)(iii) asks for the *depicted person's* good-faith belief, so an
#: authorised requester affirms that person's belief, not their own (docs/legal.md).
GOOD_FAITH_STATEMENT = (
    "The person shown (I, or the person I am authorised to act for) has a good faith belief "
    "that the intimate visual depiction identified in this request is not consensual, and the "
    "information in this request is accurate."
)
MAX_ITEMS = 1000
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]{2,}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
#: How far in the future a signature time may lie (clock skew between browser and server).
SIGNATURE_SKEW_SECONDS = 300


class ContentHash(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    signal_type: str
    signal_value: str

    @model_validator(mode="after")
    def _valid_signal(self) -> ContentHash:
        try:
            signal = get_signal(self.signal_type)
            self.signal_value = signal.validate(self.signal_value)
        except (InvalidSignalValue, ValueError) as error:
            raise ValueError(str(error)) from None
        self.signal_type = signal.name
        return self


class Signature(BaseModel):
    """An electronic signature: the requester's typed full name and when they typed it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    signed_at: datetime

    @field_validator("signed_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return require_aware(value, "signed_at")


class RemovalRequest(BaseModel):
    """A removal request as the platform received it.

    ``under_18`` marks content taken when the person shown was under 18: such a report may
    be anonymous (no name, email or signature), as DSA Art. 16(2)(c) allows for child sexual
    abuse material; every other request needs all three (47 U.S.C. s. 223a(a)(1)(B)).
    ``jurisdiction`` is where the requester lives: it chooses the laws a decision cites, not
    the deadline, which follows the platform's own obligations."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    requester_name: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=254)
    relation: Literal["depicted_person", "authorised"]
    authority_description: str | None = Field(default=None, max_length=2000)
    urls: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    catalog_ids: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    hashes: list[ContentHash] = Field(default_factory=list, max_length=MAX_ITEMS)
    good_faith: bool
    signature: Signature | None = None
    jurisdiction: Jurisdiction
    description: str | None = Field(default=None, max_length=4000)
    under_18: bool = False

    @property
    def anonymous(self) -> bool:
        """No name, email or signature: allowed only for under-18 reports."""
        return not (self.requester_name and self.contact_email and self.signature)

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not _EMAIL.match(value):
            raise ValueError("is not an email address (like name@example.org)")
        return value

    @field_validator("urls")
    @classmethod
    def _urls(cls, values: list[str]) -> list[str]:
        cleaned = [value.strip() for value in values]
        for index, url in enumerate(cleaned):
            if not _URL.match(url) or len(url) > 2048:
                raise ValueError(f"item {index} is not an http(s) URL: {url[:80]!r}")
        return cleaned

    @field_validator("catalog_ids")
    @classmethod
    def _catalog_ids(cls, values: list[str]) -> list[str]:
        cleaned = [value.strip() for value in values]
        for index, item in enumerate(cleaned):
            if not item or len(item) > 200:
                raise ValueError(f"item {index} must be 1-200 characters")
        return cleaned

    @field_validator("good_faith")
    @classmethod
    def _good_faith(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError(f"must be confirmed (true): {GOOD_FAITH_STATEMENT}")
        return value


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class IntakeError(ValueError):
    """The request is invalid; ``errors`` has one message per bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


_IDENTITY_REQUIRED = (
    "is required (only a report of a picture or video taken when the person shown was under "
    "18 may leave it out)"
)


def _identity_errors(request: RemovalRequest) -> list[FieldError]:
    """Name, email and signature: all required, unless an under-18 report leaves them out."""
    if request.under_18:
        return []
    missing = [
        FieldError(name, _IDENTITY_REQUIRED)
        for name, value in (
            ("requester_name", request.requester_name),
            ("contact_email", request.contact_email),
            ("signature", request.signature),
        )
        if not value
    ]
    return missing


def _missing_identity(raw: Mapping[str, Any]) -> list[FieldError]:
    """The identity fields a request without ``under_18`` lacks, named even when other fields
    failed validation, so a person sees every problem at once."""
    if raw.get("under_18") is True:
        return []
    names = ("requester_name", "contact_email", "signature")
    return [FieldError(name, _IDENTITY_REQUIRED) for name in names if not raw.get(name)]


def _cross_field_errors(request: RemovalRequest, now: datetime) -> list[FieldError]:
    errors = _identity_errors(request)
    if request.relation == "authorised" and not (request.authority_description or "").strip():
        errors.append(
            FieldError(
                "authority_description",
                "is required when acting on behalf of the depicted person: describe your "
                "authority (e.g. parent of a minor, lawyer, power of attorney)",
            )
        )
    if not (request.urls or request.catalog_ids or request.hashes):
        errors.append(
            FieldError("content", "identify the content: give at least one URL, catalog id or hash")
        )
    if request.signature is not None:
        errors.extend(_signature_errors(request.signature, request.requester_name, now))
    return errors


def _signature_errors(signature: Signature, requester_name: str, now: datetime) -> list[FieldError]:
    errors = []
    if _normal_name(signature.full_name) != _normal_name(requester_name):
        errors.append(
            FieldError("signature.full_name", "must be your full name exactly as in requester_name")
        )
    if (signature.signed_at - now).total_seconds() > SIGNATURE_SKEW_SECONDS:
        errors.append(FieldError("signature.signed_at", "lies in the future"))
    return errors


def _normal_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def _pydantic_errors(error: ValidationError) -> list[FieldError]:
    found = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "request"
        kind = item["type"]
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = "is not a field of a removal request"
        elif kind == "literal_error" and field == "relation":
            message = "must be depicted_person or authorised"
        elif kind == "enum" and field == "jurisdiction":
            message = "must be one of " + ", ".join(j.value for j in Jurisdiction)
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        found.append(FieldError(field, message))
    return found


def validate_request(raw: Mapping[str, Any], now: datetime) -> RemovalRequest:
    """A complete, valid request or :class:`IntakeError` listing every bad field."""
    if not isinstance(raw, Mapping):
        raise IntakeError([FieldError("request", "must be a JSON object")])
    try:
        request = RemovalRequest.model_validate(dict(raw))
    except ValidationError as error:
        raise IntakeError(_pydantic_errors(error) + _missing_identity(raw)) from None
    errors = _cross_field_errors(request, require_aware(now, "now"))
    if errors:
        raise IntakeError(errors)
    return request


@dataclass(frozen=True)
class Receipt:
    case_id: str
    received_at: datetime
    due_at: datetime
    statutory_deadline: bool
    jurisdiction: Jurisdiction
    legal_due_at: datetime | None = None
    deadline_basis: str = ""


def new_case_id(now: datetime) -> str:
    """``C-20260519-7KQ2M9XD``: date for humans, 40 random bits against guessing."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    tail = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"C-{now:%Y%m%d}-{tail}"


def receive(
    raw: Mapping[str, Any],
    *,
    clock: Clock,
    audit: AuditStore,
    deadlines: DeadlineConfig,
    case_ids: Callable[[datetime], str] = new_case_id,
) -> Receipt:
    """Validate, then write one ``case.received`` entry carrying the whole request.

    Invalid input raises :class:`IntakeError` before any write. The contact email is kept in
    the audit data because the case needs it; nothing here logs it."""
    now = require_aware(clock.now(), "now")
    request = validate_request(raw, now)
    deadline = request_deadline(now, deadlines, incomplete_for=incomplete_regimes(request))
    case_id = case_ids(now)
    audit.append(
        actor="requester",
        action="case.received",
        case_id=case_id,
        data={
            "request": request.model_dump(mode="json"),
            "good_faith_statement": GOOD_FAITH_STATEMENT,
            **deadline_record(deadline),
            "state": "received",
        },
    )
    return Receipt(
        case_id,
        now,
        deadline.due_at,
        deadline.statutory,
        request.jurisdiction,
        deadline.legal_due_at,
        deadline.basis,
    )


def incomplete_regimes(request: RemovalRequest) -> frozenset[Jurisdiction]:
    """The regimes whose statutory clock this request cannot start: TAKE IT DOWN needs a
    signature and contact details; the UK report needs the elements of ``uk_report``."""
    incomplete = set()
    if request.anonymous:
        incomplete.add(Jurisdiction.US)
    if uk_report_gaps(request):
        incomplete.add(Jurisdiction.UK)
    return frozenset(incomplete)


def deadline_record(deadline: Deadline) -> dict[str, Any]:
    """The deadline as the ``case.received`` audit entry keeps it: what was promised, why."""
    legal = deadline.legal_due_at
    return {
        "due_at": deadline.due_at.isoformat(),
        "statutory_deadline": deadline.statutory,
        "legal_due_at": legal.isoformat() if legal else None,
        "deadline_basis": deadline.basis,
    }
