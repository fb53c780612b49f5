"""Throw-away databases for tests: a SQLite file always, a PostgreSQL schema when configured.

Set ``HASHWALL_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
and every database test runs a second time on PostgreSQL, each in a schema of its own that is
dropped afterwards, so parallel runs never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import uuid
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
    from sqlalchemy import create_engine, text

    from hashwall.store import normalize_database_url

    schema = f"hw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_database_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
