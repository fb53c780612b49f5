"""Likeness endpoints: consented template upload, listing, revocation, screening.

There is deliberately no endpoint that takes a face and returns identities or similarities:
the only way a face is compared is screening, and only inside content judged intimate, and the
platform then learns "match for review" and record ids, never who or how similar.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from sqlalchemy import select

from hashwall.service.auth import Permission, Principal, _bearer_or_header, authenticate, require
from hashwall.service.errors import ApiError
from hashwall.service.likeness.consent import PURPOSE, validate_consent
from hashwall.service.likeness.enrolment import (
    load_row,
    revoke_template,
    store_template,
    template_out,
)
from hashwall.service.likeness.keys import token_matches
from hashwall.service.likeness.runtime import CRYPTO_MODULES, LikenessRuntime
from hashwall.service.likeness.schemas import (
    KeyRotationOut,
    ScreenResponse,
    TemplateCreated,
    TemplateList,
    TemplateOut,
)
from hashwall.service.likeness.screening import screen_upload
from hashwall.service.state import ServiceState, get_state
from hashwall.store import Entry
from hashwall.store.likeness_models import LikenessTemplate

router = APIRouter(prefix="/v1/likeness", tags=["likeness"])
State = Annotated[ServiceState, Depends(get_state)]

MAX_TEMPLATE_BYTES = 1024 * 1024
#: Largest scrypt memory (128 * n * r bytes) a person-encrypted upload may ask the server for.
MAX_SCRYPT_MEMORY = 64 * 1024 * 1024


def runtime_of(state: ServiceState) -> LikenessRuntime:
    assert state.likeness is not None
    return state.likeness


def _template_key(value: str | None) -> Any:
    """The person's key, as a key file holds it: base64 of 32 bytes, or a passphrase."""
    from hashwall.likeness.templates import KEY_BYTES, TemplateKey

    if not value:
        return None
    try:
        decoded = base64.urlsafe_b64decode(value.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        decoded = b""
    if len(decoded) == KEY_BYTES:
        return TemplateKey(raw_key=decoded)
    return TemplateKey(passphrase=value.encode("utf-8"))


def _check_kdf_cost(data: bytes) -> None:
    """Refuse envelopes whose scrypt parameters would make the server allocate too much."""
    try:
        kdf = json.loads(data).get("kdf") or {}
        cost = (
            128 * int(kdf.get("n", 0)) * int(kdf.get("r", 0)) if kdf.get("name") == "scrypt" else 0
        )
    except (ValueError, TypeError, AttributeError):
        return  # not an envelope: parsing reports it
    if cost > MAX_SCRYPT_MEMORY:
        raise ApiError(422, "the template's scrypt parameters are too costly", "file")


@router.post("/templates", response_model=TemplateCreated, status_code=201)
def upload_template(
    state: State,
    principal: Annotated[Principal, require(Permission.LIKENESS_TEMPLATES)],
    file: Annotated[UploadFile, File(description="A `hashwall likeness enrol` template file.")],
    consent_subject: Annotated[str, Form(description="Who consents (the enrolled person).")],
    consent_statement: Annotated[str, Form(description="The consent text the person agreed to.")],
    consent_purpose: Annotated[str, Form(description=f"Must be {PURPOSE!r}.")],
    consent_given_at: Annotated[datetime, Form(description="When consent was given (ISO 8601).")],
    consent_verification: Annotated[
        str, Form(description="How the platform verified that the uploader is the person.")
    ],
    consent_expires_at: Annotated[datetime | None, Form()] = None,
    decryption_key: Annotated[
        str | None,
        Form(
            description="The person's key (base64 key file content) or passphrase, if the "
            "file is encrypted; used in memory only."
        ),
    ] = None,
) -> TemplateCreated:
    """Store a template with its consent record; the response's revocation token is shown once."""
    from hashwall.likeness.errors import TemplateError
    from hashwall.likeness.models.resources import SFACE
    from hashwall.likeness.templates import template_from_bytes

    runtime = runtime_of(state)
    runtime.require(CRYPTO_MODULES)
    consent = validate_consent(
        subject=consent_subject,
        statement=consent_statement,
        purpose=consent_purpose,
        given_at=consent_given_at,
        expires_at=consent_expires_at,
        verification=consent_verification,
    )
    data = file.file.read(MAX_TEMPLATE_BYTES + 1)
    if len(data) > MAX_TEMPLATE_BYTES:
        raise ApiError(413, f"a template file is at most {MAX_TEMPLATE_BYTES} bytes", "file")
    _check_kdf_cost(data)
    try:
        template = template_from_bytes(data, _template_key(decryption_key), "file")
    except TemplateError as error:
        field = "decryption_key" if "crypt" in str(error) else "file"
        raise ApiError(422, str(error), field) from None
    if template.model_id != SFACE.model_id:
        raise ApiError(
            422,
            f"the template was made with {template.model_id}; this server compares faces with "
            f"{SFACE.model_id} (enrol again with this hashwall version)",
            "file",
        )
    out, token = store_template(state, template, consent, principal.key_id)
    return TemplateCreated(**out.model_dump(), revocation_token=token)


@router.get("/templates", response_model=TemplateList)
def list_templates(
    state: State,
    _: Annotated[Principal, require(Permission.LIKENESS_TEMPLATES)],
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TemplateList:
    """Template ids, consent records and status; never embeddings."""
    with state.db.session() as session:
        rows = session.execute(
            select(LikenessTemplate, Entry.state)
            .join(Entry, Entry.id == LikenessTemplate.entry_id)
            .where(LikenessTemplate.id > after_id)
            .order_by(LikenessTemplate.id)
            .limit(limit)
        ).all()
        templates = [template_out(row, entry_state) for row, entry_state in rows]
        last = rows[-1][0].id if len(rows) == limit else None
    return TemplateList(templates=templates, next_after_id=last)


@router.get("/templates/{template_id}", response_model=TemplateOut)
def get_template(
    template_id: str,
    state: State,
    _: Annotated[Principal, require(Permission.LIKENESS_TEMPLATES)],
) -> TemplateOut:
    with state.db.session() as session:
        row, entry = load_row(session, template_id[:64])
        return template_out(row, entry.state)


async def _revoker(
    request: Request,
    header_key: Annotated[str | None, Depends(_bearer_or_header)],
    x_revocation_token: Annotated[
        str | None,
        Header(description="The token the upload returned: revoke without an API key."),
    ] = None,
) -> Principal | str:
    """A revocation token (checked in the handler), or a key with the templates permission."""
    if x_revocation_token:
        return x_revocation_token
    principal = await authenticate(request, header_key)
    if not principal.can(Permission.LIKENESS_TEMPLATES):
        raise ApiError(
            403,
            f"role {principal.role.value!r} may not do this "
            f"(needs {Permission.LIKENESS_TEMPLATES.value!r} or X-Revocation-Token)",
            "X-API-Key",
        )
    return principal


@router.delete("/templates/{template_id}", response_model=TemplateOut)
def delete_template(
    template_id: str,
    state: State,
    caller: Annotated[Principal | str, Depends(_revoker)],
) -> TemplateOut:
    """Revoke: the encrypted template is deleted, no worker matches it any more, an audit row
    is written. Works with the revocation token alone (the person, without an account)."""
    with state.db.session() as session:
        row, _entry = load_row(session, template_id[:64])
        row_id = row.id
        token_hash = row.revocation_token_hash
    if isinstance(caller, str):
        if not token_matches(
            caller, token_hash, state.settings.secret_key, state.settings.legacy_secret_keys()
        ):
            raise ApiError(403, "the revocation token does not match", "X-Revocation-Token")
        actor = "revocation_token"
    else:
        actor = f"api_key:{caller.key_id}"
    return revoke_template(state, row_id, actor)


@router.post("/keys/rotate", response_model=KeyRotationOut)
def rotate_key(
    state: State,
    principal: Annotated[Principal, require(Permission.KEYS_ADMIN)],
) -> KeyRotationOut:
    """Re-encrypt every stored template under ``HASHWALL_LIKENESS_KEY`` (admin), in one
    transaction with a ``key_rotated`` audit row each; 409 and nothing changed if a template
    opens with none of the configured keys. Same as ``hashwall likeness rotate-key``."""
    from hashwall.service.likeness.rotation import RotationError, rotate_templates

    runtime = runtime_of(state)
    runtime.require(CRYPTO_MODULES)
    assert runtime.cache.keys is not None  # require() checked that a key is set
    try:
        report = rotate_templates(state.db, runtime.cache.keys, f"api_key:{principal.key_id}")
    except RotationError as error:
        raise ApiError(409, str(error), None) from None
    return KeyRotationOut(rotated=report.rotated, already_current=report.already_current)


@router.post("/screen", response_model=ScreenResponse)
def screen(
    state: State,
    principal: Annotated[Principal, require(Permission.LIKENESS_SCREEN)],
    file: Annotated[UploadFile, File(description="A photo or video; not kept.")],
) -> ScreenResponse:
    """Screen content for enrolled people: faces are only looked at when the content is
    intimate; a hit is recorded for human review and the answer carries only record ids."""
    return screen_upload(state, runtime_of(state), file, principal.key_id)
