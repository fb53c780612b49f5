"""No published secret key (issue 14, item 3).

Why: earlier versions defaulted ``HASHWALL_SECRET_KEY`` to a value printed in the source, so
anyone could sign a reviewer session cookie for a development server (200 on ``/review/banks``
as admin), and production accepted ``aaaaaaaaaaaaaaaa``. Development now generates a key into
the data directory (0600) and production refuses weak keys. Data a development server wrote
under the old default must still open."""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import stat
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from hashwall.service.actions.webhooks import SECRET_PURPOSE, open_secret, seal_legacy_secrets
from hashwall.service.auth import Role, create_api_key, hash_key, lookup_key
from hashwall.service.sealed import seal, unseal
from hashwall.service.secret_key import (
    PUBLISHED_DEVELOPMENT_SECRET,
    SECRET_FILE,
    development_secret,
    weakness,
)
from hashwall.service.settings import InsecureSettingsError, Settings
from hashwall.store import ApiKey, Bank, create_database, upgrade
from hashwall.store.action_models import BankWebhook
from hashwall.web.app import create_app
from hashwall.web.review import session as sessions
from hashwall.web.review.tokens import derived_key, sign

WEAK = [
    "",
    "aaaaaaaaaaaaaaaa",
    "a" * 64,
    "0123456789abcdef" * 4,
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "a-long-production-secret-01",
    "test-secret-key-0123456789",
    PUBLISHED_DEVELOPMENT_SECRET,
    "correct horse battery staple",
]


def forged_cookie(key_id: int) -> str:
    """A session cookie as the published default would have signed it."""
    payload = {"k": key_id, "e": int(time.time()) + 3600, "n": "forged"}
    return sign(derived_key(PUBLISHED_DEVELOPMENT_SECRET, "session"), json.dumps(payload).encode())


def test_a_cookie_signed_with_the_published_default_is_no_session(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # no HASHWALL_SECRET_KEY, as out of the box
    assert settings.secret_key != PUBLISHED_DEVELOPMENT_SECRET
    db = create_database(settings.resolved_database_url())
    try:
        upgrade(db.engine)
        admin, _ = create_api_key(db, settings.secret_key, Role.ADMIN, "admin")
    finally:
        db.dispose()
    with TestClient(create_app(settings)) as client:
        client.cookies.set(sessions.COOKIE, forged_cookie(admin.id), path="/review")
        response = client.get("/review/banks", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/review/login"


def test_development_generates_a_private_key_file_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Settings(data_dir=data).secret_key
    assert Settings(data_dir=data).secret_key == first  # reused: API keys keep working
    assert weakness(first) is None and len(bytes.fromhex(first)) == 32
    key_file = data / SECRET_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert Settings(data_dir=tmp_path / "other").secret_key != first
    assert not list(data.glob(".secret-key.*"))  # no temporary file left behind


def test_an_unwritable_data_directory_is_a_clear_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hashwall.cli.app import app as cli_app

    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data directory should be")
    with pytest.raises(InsecureSettingsError, match="cannot keep the development secret key"):
        Settings(data_dir=not_a_folder)
    result = CliRunner().invoke(
        cli_app, ["db", "upgrade", "--data-dir", str(not_a_folder)], env={"HASHWALL_SECRET_KEY": ""}
    )
    assert result.exit_code == 2 and "HASHWALL_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_concurrent_first_starts_agree(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        found = set(pool.map(lambda _: development_secret(tmp_path), range(16)))
    assert len(found) == 1


@pytest.mark.parametrize("value", WEAK)
def test_production_refuses_missing_published_and_weak_keys(value: str, tmp_path: Path) -> None:
    with pytest.raises(InsecureSettingsError, match="HASHWALL_SECRET_KEY") as refused:
        Settings(env="production", secret_key=value, data_dir=tmp_path)
    assert "openssl rand -hex 32" in str(refused.value)
    assert not (tmp_path / SECRET_FILE).exists()  # production never generates one


def test_the_published_default_is_refused_in_development_too(tmp_path: Path) -> None:
    with pytest.raises(InsecureSettingsError, match="published"):
        Settings(secret_key=PUBLISHED_DEVELOPMENT_SECRET, data_dir=tmp_path)


@hypothesis_settings(max_examples=300)
@given(
    st.randoms(use_true_random=True),
    st.integers(32, 64),
    st.sampled_from(["hex", "b64", "b64url"]),
)
def test_production_accepts_any_32_random_bytes(
    rnd: random.Random, size: int, encoding: str
) -> None:
    """No false alarms: however a random key of 32+ bytes is written, it is accepted."""
    raw = rnd.randbytes(size)
    if encoding == "hex":
        value = raw.hex()
    elif encoding == "b64":
        value = base64.b64encode(raw).decode()
    else:
        value = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert weakness(value) is None, value
    ok = Settings(env="production", secret_key=value)
    assert value not in repr(ok)


def test_production_accepts_real_random_keys() -> None:
    for _ in range(200):
        for value in (secrets.token_hex(32), secrets.token_urlsafe(32)):
            assert weakness(value) is None, value
            assert Settings(env="production", secret_key=value).secret_key == value
    openssl_base64 = base64.b64encode(os.urandom(32)).decode()
    assert weakness(openssl_base64) is None


def test_development_data_written_under_the_published_default_still_opens(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    db = create_database(settings.resolved_database_url())
    try:
        upgrade(db.engine)
        old_row, old_key = create_api_key(db, PUBLISHED_DEVELOPMENT_SECRET, Role.CURATOR, "old")
        old_sealed = seal(PUBLISHED_DEVELOPMENT_SECRET, "whsec_old", purpose=SECRET_PURPOSE)
        with db.session() as session:
            bank = Bank(name="b")
            session.add(bank)
            session.flush()
            session.add(BankWebhook(bank_id=bank.id, url="http://127.0.0.1:9/", secret=old_sealed))
        legacy = settings.legacy_secret_keys()
        principal = lookup_key(db, settings.secret_key, old_key, legacy)
        assert principal is not None and principal.key_id == old_row.id
        with db.session() as session:  # re-hashed under the new key on first use
            stored = session.scalars(select(ApiKey.key_hash).where(ApiKey.id == old_row.id)).one()
        assert stored == hash_key(old_key, settings.secret_key)
        assert lookup_key(db, settings.secret_key, old_key) is not None
        assert open_secret(settings, old_sealed) == "whsec_old"
        assert seal_legacy_secrets(db, settings) == 1
        assert seal_legacy_secrets(db, settings) == 0
        with db.session() as session:
            resealed = session.scalars(select(BankWebhook.secret)).one()
        assert unseal(settings.secret_key, resealed, purpose=SECRET_PURPOSE) == "whsec_old"
    finally:
        db.dispose()
    production = Settings(env="production", secret_key=secrets.token_hex(32))
    assert production.legacy_secret_keys() == ()  # never accepted there
