"""The consent record an upload must carry, checked before a template is stored.

A template is biometric data processed on the basis of the person's explicit consent, for one
purpose. The record says who consented (``subject``), to what (``statement``), for which purpose
(must be :data:`PURPOSE`), when (``given_at``, not in the future), until when (``expires_at``,
optional, in the future) and how the platform verified that the uploader is the person
(``verification``). Each failure names its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hashwall.service.errors import ApiError

PURPOSE = "screening intimate content on this platform"
#: Clocks disagree a little; a consent "given" a few minutes ahead is not refused.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Consent:
    subject: str
    statement: str
    purpose: str
    given_at: datetime
    expires_at: datetime | None
    verification: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(value: str, field: str, minimum: int, maximum: int) -> str:
    cleaned = "".join(c for c in value if ord(c) >= 32 or c == "\n").strip()
    if len(cleaned) < minimum:
        raise ApiError(422, f"{field} is required (at least {minimum} characters)", field)
    if len(cleaned) > maximum:
        raise ApiError(422, f"{field} is longer than {maximum} characters", field)
    return cleaned


def validate_consent(
    *,
    subject: str,
    statement: str,
    purpose: str,
    given_at: datetime,
    expires_at: datetime | None,
    verification: str,
    now: datetime | None = None,
) -> Consent:
    now = now or datetime.now(UTC)
    if " ".join(purpose.split()).lower() != PURPOSE:
        raise ApiError(422, f"consent_purpose must be {PURPOSE!r}", "consent_purpose")
    given = _utc(given_at)
    if given > now + CLOCK_SKEW:
        raise ApiError(422, "consent_given_at is in the future", "consent_given_at")
    expires = _utc(expires_at) if expires_at is not None else None
    if expires is not None and expires <= max(now, given):
        raise ApiError(422, "consent_expires_at must be in the future", "consent_expires_at")
    return Consent(
        subject=_text(subject, "consent_subject", 1, 200),
        statement=_text(statement, "consent_statement", 10, 5000),
        purpose=PURPOSE,
        given_at=given,
        expires_at=expires,
        verification=_text(verification, "consent_verification", 3, 500),
    )
