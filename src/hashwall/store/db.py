"""Engines and sessions for the two supported databases: a SQLite file and PostgreSQL.

SQLite is the embedded default so ``hashwall serve`` works with nothing else installed; it runs
in WAL mode (readers never block the writer, which several worker processes need) with a busy
timeout, so concurrent writers queue instead of failing. PostgreSQL is reached through
psycopg 3; ``postgresql://`` URLs are rewritten to name that driver explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_FILE = "hashwall.db"
#: How long a SQLite writer waits for another process's write transaction (bulk imports).
SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseUrlError(ValueError):
    """A database URL hashwall cannot use; the message says which forms work."""


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / SQLITE_FILE).resolve()}"


def normalize_database_url(url: str) -> str:
    """Accept ``postgresql://``/``postgres://`` for psycopg 3 and ``sqlite:///file`` URLs."""
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseUrlError(
            "database URL must look like sqlite:///path/hashwall.db or "
            "postgresql://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # pysqlite defers BEGIN until the first write, which turns read-then-write transactions into
    # "database is locked" errors under concurrency; BEGIN IMMEDIATE on writes is not needed for
    # our short transactions, but an explicit BEGIN makes SQLAlchemy's transaction real.
    connection.exec_driver_sql("BEGIN")


@dataclass
class Database:
    """An engine plus a session factory; ``dispose()`` closes every pooled connection."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    """Open (not create tables in) the database at ``url``; see :func:`upgrade` for schema."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "isolation_level": None},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return Database(url, engine, sessionmaker(engine, expire_on_commit=False))
