"""Throw-away databases for tests: a SQLite file always, a PostgreSQL schema when configured.

Set ``HASHWALL_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
and every database test runs a second time on PostgreSQL, each in a schema of its own that is
dropped afterwards, so parallel runs never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

PG_URL = os.environ.get("HASHWALL_TEST_DATABASE_URL", "")


def database_kinds() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@contextlib.contextmanager
def throwaway_database(kind: str, directory: Path, name: str = "hashwall.db") -> Iterator[str]:
    """Yield a database URL nobody else uses; PostgreSQL schemas are dropped on exit."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / name}"
        return
    from hashwall.store.db import scratch_schema

    with scratch_schema(PG_URL, prefix="hw_test") as url:
        yield url
