"""Likeness template upload with consent, listing, revocation (API key or token), workers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hashwall.service.settings import InsecureSettingsError, Settings
from tests.service.conftest import Api

if any(find_spec(name) is None for name in ("cryptography", "onnxruntime", "cv2")):
    pytest.skip("the likeness extra is not installed", allow_module_level=True)

from hashwall.likeness.templates import (
    ENCRYPTED_FORMAT,
    Template,
    TemplateKey,
    template_from_bytes,
    template_to_bytes,
)
from hashwall.service.likeness.consent import PURPOSE
from hashwall.service.likeness.keys import LikenessKeyError, service_key
from hashwall.store.likeness_models import LikenessAudit, LikenessTemplate
from tests.service.likeness_helpers import astronaut_template, upload


def test_upload_stores_the_template_encrypted_with_the_service_key(api: Api) -> None:
    template = astronaut_template()
    response = upload(api, template_to_bytes(template))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["template_id"] == template.template_id
    assert body["status"] == "active"
    assert body["consent"]["purpose"] == PURPOSE
    assert body["revocation_token"].startswith("hwr_")
    assert "embeddings" not in response.text
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]
    with state.db.session() as session:
        row = session.scalars(select(LikenessTemplate)).one()
        assert row.revocation_token_hash != body["revocation_token"]
        assert body["revocation_token"] not in row.revocation_token_hash
        envelope = json.loads(row.ciphertext)
        assert envelope["format"] == ENCRYPTED_FORMAT and "embeddings" not in envelope
        stored = template_from_bytes(row.ciphertext.encode(), service_key(api.settings))
        assert stored.embeddings.tolist() == template.embeddings.tolist()
        with pytest.raises(Exception, match="wrong key"):
            template_from_bytes(row.ciphertext.encode(), TemplateKey.generate())
        audit = session.scalars(select(LikenessAudit)).one()
        assert (audit.template_id, audit.event) == (template.template_id, "enrolled")
    assert state.likeness.cache.template_ids() == {template.template_id}
    listed = api.call("GET", "/v1/likeness/templates", "likeness").json()["templates"]
    assert [t["template_id"] for t in listed] == [template.template_id]
    assert "revocation_token" not in listed[0] and '"embeddings"' not in json.dumps(listed)
    one = api.call("GET", f"/v1/likeness/templates/{template.template_id}", "likeness")
    assert one.json()["consent"]["subject"] == "Ada Example"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent_subject": None}, "body.consent_subject"),
        ({"consent_statement": None}, "body.consent_statement"),
        ({"consent_given_at": None}, "body.consent_given_at"),
        ({"consent_verification": None}, "body.consent_verification"),
        ({"consent_purpose": "marketing"}, "consent_purpose"),
        ({"consent_statement": "yes"}, "consent_statement"),
        ({"consent_subject": "   "}, "consent_subject"),
        ({"consent_given_at": "2999-01-01T00:00:00Z"}, "consent_given_at"),
        ({"consent_expires_at": "2000-01-01T00:00:00Z"}, "consent_expires_at"),
    ],
)
def test_upload_without_a_valid_consent_record_is_refused(
    api: Api, change: dict[str, Any], field: str
) -> None:
    response = upload(api, template_to_bytes(astronaut_template()), **change)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    fields = [e["field"] for e in error] if isinstance(error, list) else [error["field"]]
    assert field in fields
    assert api.call("GET", "/v1/likeness/templates", "likeness").json()["templates"] == []


def test_roles_and_bad_files(api: Api) -> None:
    data = template_to_bytes(astronaut_template())
    for role in ("matcher", "curator", "reviewer", "hasher"):
        assert upload(api, data, role=role).status_code == 403
        assert api.call("GET", "/v1/likeness/templates", role).status_code == 403
    assert upload(api, b"not json").status_code == 422
    assert upload(api, data, role="admin").status_code == 201
    assert upload(api, data).status_code == 409  # same template id twice


def test_person_encrypted_templates_need_their_key(api: Api) -> None:
    template = astronaut_template()
    key = TemplateKey.generate()
    encrypted = template_to_bytes(template, key)
    missing = upload(api, encrypted)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "decryption_key"
    wrong = upload(api, encrypted, decryption_key=TemplateKey.generate().encoded())
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "decryption_key"
    assert upload(api, encrypted, decryption_key=key.encoded()).status_code == 201
    other = astronaut_template()
    passphrase = template_to_bytes(other, TemplateKey(passphrase=b"correct horse battery"))
    assert upload(api, passphrase, decryption_key="correct horse battery").status_code == 201


def test_revocation_by_token_without_an_account(api: Api) -> None:
    created = upload(api, template_to_bytes(astronaut_template())).json()
    url = f"/v1/likeness/templates/{created['template_id']}"
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]
    assert len(state.likeness.cache) == 1
    assert api.client.delete(url).status_code == 401  # neither key nor token
    wrong = api.client.delete(url, headers={"X-Revocation-Token": "hwr_wrong"})
    assert wrong.status_code == 403
    assert api.call("DELETE", url, "matcher").status_code == 403
    revoked = api.client.delete(url, headers={"X-Revocation-Token": created["revocation_token"]})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_by"] == "revocation_token"
    assert len(state.likeness.cache) == 0  # before the response, in this worker
    with state.db.session() as session:
        row = session.scalars(select(LikenessTemplate)).one()
        assert row.ciphertext is None and row.revoked_at is not None
        events = [
            a.event for a in session.scalars(select(LikenessAudit).order_by(LikenessAudit.id))
        ]
        assert events == ["enrolled", "revoked"]
        audit = session.scalars(select(LikenessAudit)).all()
        assert all(set(vars(a)) & {"embeddings", "ciphertext"} == set() for a in audit)
    again = api.call("DELETE", url, "likeness")
    assert again.status_code == 200 and again.json()["revoked_by"] == "revocation_token"
    assert api.call("DELETE", "/v1/likeness/templates/nope", "likeness").status_code == 404


def test_revocation_reaches_every_worker(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    first = api_factory(settings)
    second = api_factory(settings)
    second.keys = first.keys = {**first.keys, **second.keys}
    created = upload(first, template_to_bytes(astronaut_template())).json()
    caches = [api.client.app.state.hashwall.likeness.cache for api in (first, second)]  # type: ignore[attr-defined]
    _wait(lambda: len(caches[1]) == 1)
    url = f"/v1/likeness/templates/{created['template_id']}"
    assert second.call("DELETE", url, "likeness").status_code == 200
    assert len(caches[1]) == 0
    _wait(lambda: len(caches[0]) == 0)


def test_expired_consent_stops_matching(api: Api) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=2)
    created = upload(
        api, template_to_bytes(astronaut_template()), consent_expires_at=soon.isoformat()
    ).json()
    cache = api.client.app.state.hashwall.likeness.cache  # type: ignore[attr-defined]
    assert [c.template.template_id for c in cache.current()] == [created["template_id"]]
    assert cache.current(now=soon + timedelta(seconds=1)) == []
    listed = api.call("GET", f"/v1/likeness/templates/{created['template_id']}", "likeness")
    assert listed.json()["status"] == "active"


def _wait(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not seen within {seconds} s")
        time.sleep(0.02)


def test_production_needs_an_explicit_likeness_key(
    api_factory: Callable[[Settings], Api], settings: Settings, tmp_path: Path
) -> None:
    secret = "3c9e1a7f5b2d8e0c4a6f9b1d3e7c5a8f0b2e4d6a9c1f3b5e7d0a2c4f6b8e1d3a"
    with pytest.raises(InsecureSettingsError, match="32 bytes"):
        Settings(secret_key=secret, likeness_key="short", data_dir=tmp_path)
    key = TemplateKey.generate()
    production = Settings(
        env="production", secret_key=secret, likeness_key=key.encoded(), data_dir=tmp_path
    )
    assert (service_key(production) or TemplateKey()).raw_key == key.raw_key
    # Development without a key: derived from the secret, stable across restarts.
    dev = Settings(secret_key=secret, data_dir=tmp_path)
    assert (service_key(dev) or TemplateKey()).raw_key == (
        service_key(dev) or TemplateKey()
    ).raw_key
    # Production without a key: likeness is off (503), never a derived key...
    keyless = settings.model_copy(update={"env": "production"})
    assert service_key(keyless) is None
    api = api_factory(keyless)
    off = upload(api, template_to_bytes(astronaut_template()))
    assert off.status_code == 503 and "HASHWALL_LIKENESS_KEY" in off.text
    # ...and a worker refuses to start once the database holds templates.
    keyed = api_factory(settings.model_copy(update={"likeness_key": key.encoded()}))
    assert upload(keyed, template_to_bytes(astronaut_template())).status_code == 201
    with pytest.raises(LikenessKeyError, match="HASHWALL_LIKENESS_KEY"):
        api_factory(keyless)


def test_template_type_is_what_enrolment_writes() -> None:
    assert isinstance(astronaut_template(), Template)
