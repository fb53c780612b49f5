"""Key rotation of stored templates: old-key rows read during a rotation, the API and the CLI
re-encrypt everything under the current key in one audited transaction, all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hashwall.service.settings import InsecureSettingsError, Settings
from tests.service.conftest import Api

if any(find_spec(name) is None for name in ("cryptography", "onnxruntime", "cv2")):
    pytest.skip("the likeness extra is not installed", allow_module_level=True)

from hashwall.cli.app import app
from hashwall.likeness.errors import WrongKeyError
from hashwall.likeness.keyring import KeyRing
from hashwall.likeness.templates import TemplateKey, template_to_bytes
from hashwall.store.likeness_models import LikenessAudit, LikenessTemplate
from tests.service.likeness_helpers import astronaut_template, cameraman_template, upload

K1, K2, K3 = TemplateKey.generate(), TemplateKey.generate(), TemplateKey.generate()


def keyed(settings: Settings, current: TemplateKey, *previous: TemplateKey) -> Settings:
    return settings.model_copy(
        update={
            "likeness_key": current.encoded(),
            "likeness_previous_keys": ",".join(key.encoded() for key in previous),
        }
    )


def stored(api: Api) -> dict[str, str]:
    """template id -> ciphertext of every stored template."""
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]
    with state.db.session() as session:
        return {r.template_id: r.ciphertext for r in session.scalars(select(LikenessTemplate))}


def audit(api: Api, event: str) -> list[tuple[str, str]]:
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]
    with state.db.session() as session:
        rows = session.scalars(select(LikenessAudit).where(LikenessAudit.event == event))
        return sorted((row.template_id, row.actor) for row in rows)


def cached_ids(api: Api) -> set[str]:
    return api.client.app.state.hashwall.likeness.cache.template_ids()  # type: ignore[attr-defined, no-any-return]


def enrol(api: Api, template_bytes: bytes) -> str:
    response = upload(api, template_bytes)
    assert response.status_code == 201, response.text
    return str(response.json()["template_id"])


def test_old_key_rows_read_during_rotation_and_are_not_needed_after(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    old = api_factory(keyed(settings, K1))
    first = enrol(old, template_to_bytes(astronaut_template()))
    # The new key is deployed with the old one as previous: the old row still reads...
    during = api_factory(keyed(settings, K2, K1))
    assert first in cached_ids(during)
    # ...and new uploads are stored under the new key.
    second = enrol(during, template_to_bytes(cameraman_template()))
    with pytest.raises(WrongKeyError):
        KeyRing(K1).open(stored(during)[second].encode(), "second")

    assert during.call("POST", "/v1/likeness/keys/rotate", "likeness").status_code == 403
    response = during.call("POST", "/v1/likeness/keys/rotate", "admin")
    assert response.status_code == 200, response.text
    assert response.json() == {"rotated": 1, "already_current": 1}
    (actor,) = {a for _, a in audit(during, "key_rotated")}
    assert audit(during, "key_rotated") == [(first, actor)] and actor.startswith("api_key:")
    for template_id, ciphertext in stored(during).items():
        assert KeyRing(K2).open(ciphertext.encode(), template_id).under_current_key
        with pytest.raises(WrongKeyError):
            KeyRing(K1).open(ciphertext.encode(), template_id)
    # The old key can go: a worker with only the new key loads every template.
    after = api_factory(keyed(settings, K2))
    assert cached_ids(after) == {first, second}
    again = after.call("POST", "/v1/likeness/keys/rotate", "admin")
    assert again.json() == {"rotated": 0, "already_current": 2}


def test_a_row_no_key_opens_stops_the_rotation_before_anything_is_written(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    lost = enrol(api_factory(keyed(settings, K1)), template_to_bytes(astronaut_template()))
    enrol(api_factory(keyed(settings, K2)), template_to_bytes(cameraman_template()))
    api = api_factory(keyed(settings, K3, K2))  # K1 is missing from the previous keys
    before = stored(api)
    response = api.call("POST", "/v1/likeness/keys/rotate", "admin")
    assert response.status_code == 409
    detail = response.text
    assert lost in detail and "Nothing was changed" in detail
    assert all(key.encoded() not in detail for key in (K1, K2, K3))
    assert stored(api) == before  # the K2 row was not rewritten either
    assert audit(api, "key_rotated") == []


def test_previous_keys_are_validated(settings: Settings) -> None:
    with pytest.raises(InsecureSettingsError, match="key 2 is not URL-safe base64"):
        Settings.model_validate(
            {
                **settings.model_dump(),
                "likeness_key": K1.encoded(),
                "likeness_previous_keys": f"{K2.encoded()}, not-a-key",
            }
        )
    with pytest.raises(InsecureSettingsError, match="HASHWALL_LIKENESS_KEY is not"):
        Settings.model_validate({**settings.model_dump(), "likeness_previous_keys": K2.encoded()})


def test_cli_rotates_with_the_keys_from_the_environment(
    api_factory: Callable[[Settings], Api],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    template_id = enrol(api_factory(keyed(settings, K1)), template_to_bytes(astronaut_template()))
    runner = CliRunner()
    url = settings.resolved_database_url()
    monkeypatch.setenv("HASHWALL_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("HASHWALL_LIKENESS_KEY", K2.encoded())
    failed = runner.invoke(app, ["likeness", "rotate-key", "--database-url", url])
    assert failed.exit_code == 1 and template_id in failed.stderr
    assert K2.encoded() not in failed.stderr

    monkeypatch.setenv("HASHWALL_LIKENESS_PREVIOUS_KEYS", K1.encoded())
    result = runner.invoke(app, ["likeness", "rotate-key", "--database-url", url])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"rotated": 1, "already_current": 0}
    api = api_factory(keyed(settings, K2))
    assert audit(api, "key_rotated") == [(template_id, "cli")]
    assert cached_ids(api) == {template_id}


PRODUCTION_SECRET = "7d1e4b9a0c3f5e8d2a6b1c9f4e7d0a3b5c8e1f6a9d2b4c7e0f3a5d8b1c6e9f2a"


def test_cli_without_a_key_is_a_usage_error(settings: Settings, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["likeness", "rotate-key", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"],
        env={
            "HASHWALL_ENV": "production",
            "HASHWALL_SECRET_KEY": PRODUCTION_SECRET,
        },
    )
    assert result.exit_code == 2 and "HASHWALL_LIKENESS_KEY is not set" in result.stderr
