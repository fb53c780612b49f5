"""Fixtures for the cases suite: a fake clock and a throw-away database (SQLite, or a private
PostgreSQL schema when ``HASHWALL_TEST_DATABASE_URL`` is set)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.database_support import database_kinds, throwaway_database

pytest.importorskip("pydantic", reason="the cases extra is not installed")

START = datetime(2026, 5, 19, 9, 0, tzinfo=UTC)


class FakeClock:
    """Time stands still until a test moves it."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=database_kinds())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    with throwaway_database(request.param, tmp_path, "audit.db") as url:
        yield url
