"""Several workers on one database stay consistent through the change log; settings; CLI."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwall.cli.app import app as cli_app
from hashwall.service.secret_key import PUBLISHED_DEVELOPMENT_SECRET
from hashwall.service.settings import InsecureSettingsError, Settings
from tests.service.conftest import Api

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def matches(api: Api) -> bool:
    body = {"queries": [{"signal_type": "pdq", "signal_value": PDQ}]}
    response = api.call("POST", "/v1/match/hashes", "matcher", json=body)
    assert response.status_code == 200, response.text
    return bool(response.json()["results"][0]["matched"])


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition`` held; fails the test after ``seconds``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not seen within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - start


def test_two_workers_see_each_others_changes_within_one_second(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    settings = settings.model_copy(update={"change_poll_seconds": 0.5})
    first = api_factory(settings)
    second = api_factory(settings)
    second.keys = first.keys = {**first.keys, **second.keys}
    bank = first.create_bank()
    entry = first.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        "curator",
        json={"hashes": [{"signal_type": "pdq", "signal_value": PDQ}]},
    ).json()
    assert matches(first)
    wait_for(lambda: matches(second), 1.0)
    withdrawn = first.call("POST", f"/v1/entries/{entry['id']}/withdraw", "curator")
    assert withdrawn.status_code == 200
    assert not matches(first)  # before the response returned, in the worker that served it
    wait_for(lambda: not matches(second), 1.0)
    # Bank settings travel the same way.
    first.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        "curator",
        json={"hashes": [{"signal_type": "pdq", "signal_value": PDQ}]},
    )
    wait_for(lambda: matches(second), 1.0)
    first.call("PATCH", f"/v1/banks/{bank['id']}", json={"enabled": False})
    wait_for(lambda: not matches(second), 1.0)


def test_a_restarted_worker_loads_the_index_from_the_database(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    first = api_factory(settings)
    bank = first.create_bank()
    first.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        "curator",
        json={"hashes": [{"signal_type": "pdq", "signal_value": PDQ}]},
    )
    fresh = api_factory(settings)
    fresh.keys = first.keys
    assert matches(fresh)


def test_production_refuses_default_secret(tmp_path: Path) -> None:
    with pytest.raises(InsecureSettingsError, match="HASHWALL_SECRET_KEY"):
        Settings(env="production", secret_key=PUBLISHED_DEVELOPMENT_SECRET, data_dir=tmp_path)
    with pytest.raises(InsecureSettingsError):
        Settings(env="production", secret_key="short", data_dir=tmp_path)
    strong = "5f0c1e9a7b3d2c4e8f6a1b0d9c7e5a3f2b4d6c8e0a1f3b5d7c9e2a4f6b8d0c1e"
    ok = Settings(env="production", secret_key=strong, data_dir=tmp_path)
    assert strong not in repr(ok)


def test_production_env_var_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHWALL_ENV", "production")
    monkeypatch.delenv("HASHWALL_SECRET_KEY", raising=False)
    result = CliRunner().invoke(cli_app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "HASHWALL_SECRET_KEY" in result.output


def test_cli_db_upgrade_and_keys_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHWALL_SECRET_KEY", "cli-test-secret-0123456789")
    runner = CliRunner()
    upgraded = runner.invoke(cli_app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert upgraded.exit_code == 0, upgraded.output
    from alembic.script import ScriptDirectory

    from hashwall.store.migrate import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert f"revision {head}" in upgraded.output
    created = runner.invoke(
        cli_app, ["keys", "create", "--role", "matcher", "--data-dir", str(tmp_path)]
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("hw_") and len(key) > 40
    database = (tmp_path / "hashwall.db").read_bytes()
    assert key.encode() not in database  # only the keyed hash is stored
    bad = runner.invoke(cli_app, ["keys", "create", "--role", "boss", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2
