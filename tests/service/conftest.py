"""Fixtures for the API suite: a fresh database per test, on SQLite or (when
``HASHWALL_TEST_DATABASE_URL`` is set) in a private schema of that PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.database_support import database_kinds, throwaway_database

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from fastapi.testclient import TestClient

from hashwall.service.app import create_app
from hashwall.service.auth import Role, create_api_key
from hashwall.service.settings import Settings
from hashwall.store import create_database, upgrade

SECRET = "test-secret-key-0123456789"


@pytest.fixture(params=database_kinds())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody else uses: a SQLite file, or a throw-away PostgreSQL schema."""
    with throwaway_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SECRET,
        max_upload_bytes=2 * 1024 * 1024,
        change_poll_seconds=0.1,
    )


@dataclass
class Api:
    """A test client plus one API key per role."""

    client: TestClient
    keys: dict[str, str]
    settings: Settings

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def call(self, method: str, url: str, role: str = "admin", **kwargs: Any) -> Any:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def create_bank(self, name: str = "ncii", **fields: object) -> dict[str, object]:
        response = self.call("POST", "/v1/banks", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


def make_keys(settings: Settings) -> dict[str, str]:
    db = create_database(settings.resolved_database_url())
    try:
        upgrade(db.engine)
        return {role.value: create_api_key(db, SECRET, role, role.value)[1] for role in Role}
    finally:
        db.dispose()


@pytest.fixture
def api_factory(database_url: str) -> Iterator[Callable[[Settings], Api]]:
    """Apps are shut down (tailer stopped, connections closed) before the database goes."""
    clients: list[TestClient] = []

    def build(settings: Settings) -> Api:
        keys = make_keys(settings)
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return Api(client, keys, settings)

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(api_factory: Callable[[Settings], Api], settings: Settings) -> Api:
    return api_factory(settings)
