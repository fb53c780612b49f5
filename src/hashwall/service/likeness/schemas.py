"""Response models of the likeness endpoints. None of them has a field for embeddings: the
template stays inside the service, encrypted, and is only ever decrypted into worker memory."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class ConsentOut(BaseModel):
    subject: str
    statement: str
    purpose: str
    given_at: datetime
    expires_at: datetime | None
    verification: str


class TemplateOut(BaseModel):
    template_id: str
    entry_id: int
    model_id: str
    embedding_count: int
    status: Literal["active", "revoked", "expired", "suspended"]
    consent: ConsentOut
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


class TemplateCreated(TemplateOut):
    #: Shown once: lets the person revoke without a platform account
    #: (``DELETE /v1/likeness/templates/{id}`` with ``X-Revocation-Token``).
    revocation_token: str


class TemplateList(BaseModel):
    templates: list[TemplateOut]
    next_after_id: int | None


class ScreenMatch(BaseModel):
    match_record_id: int
    review_id: int | None


class ScreenResponse(BaseModel):
    request_id: str
    content_type: str
    frames_screened: int
    intimate: bool
    #: True when the content shows an enrolled person: a human reviews it (``matches``).
    match_for_review: bool
    matches: list[ScreenMatch]


class KeyRotationOut(BaseModel):
    #: Templates re-encrypted under the current key (one ``key_rotated`` audit row each).
    rotated: int
    #: Templates that already were under the current key (left as they were).
    already_current: int
