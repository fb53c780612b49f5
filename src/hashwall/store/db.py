"""Engines and sessions for the two supported databases: a SQLite file and PostgreSQL.

SQLite is the embedded default so ``hashwall serve`` works with nothing else installed; it runs
in WAL mode (readers never block the writer, which several worker processes need) with a busy
timeout, so concurrent writers queue instead of failing. PostgreSQL is reached through
psycopg 3; ``postgresql://`` URLs are rewritten to name that driver explicitly.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hashwall.store.private_files import private_dir, private_sqlite_file

log = logging.getLogger("hashwall.store")
T = TypeVar("T")

SQLITE_FILE = "hashwall.db"
#: How long a SQLite writer waits for another process's write transaction (bulk imports).
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Bytes a SQLite WAL file is cut back to when it starts over.
SQLITE_WAL_SIZE_LIMIT = 64 * 1024 * 1024


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


#: Seconds to wait for a PostgreSQL connection (libpq waits forever by default): a request
#: during an outage gets a 503 it can retry rather than hanging.
PG_CONNECT_TIMEOUT_SECONDS = 5


def _postgres_connect_args(parsed: URL) -> tuple[str, dict[str, Any]]:
    """The URL for SQLAlchemy and psycopg's connection arguments.

    ``?prepare_threshold=none`` turns off psycopg's server-side prepared statements, which a
    PgBouncer in transaction mode older than 1.21 cannot carry across transactions
    (docs/deployment.md); a number sets after how many runs a statement is prepared.
    """
    args: dict[str, Any] = {}
    threshold = parsed.query.get("prepare_threshold")
    if threshold is not None:
        parsed = parsed.difference_update_query(["prepare_threshold"])
        word = str(threshold).strip().lower()
        if word in ("none", "off", "false", ""):
            args["prepare_threshold"] = None
        elif word.isdigit():
            args["prepare_threshold"] = int(word)
        else:
            raise DatabaseUrlError("prepare_threshold must be a number or 'none'")
    if "connect_timeout" not in parsed.query:
        args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    return parsed.render_as_string(hide_password=False), args


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # After the WAL starts over, trim its file back to this (it keeps its high-water size).
    cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_SIZE_LIMIT}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


#: Execution option that makes a SQLite transaction begin with ``BEGIN IMMEDIATE``.
_IMMEDIATE = "hashwall_begin_immediate"


def _sqlite_begin(connection: Any) -> None:
    # pysqlite defers BEGIN until the first write; an explicit BEGIN makes SQLAlchemy's
    # transaction real. A plain BEGIN reads first and takes the write lock at the first write:
    # if another connection committed in between, SQLite refuses the write at once with
    # "database is locked" (a stale snapshot; the busy timeout does not apply). Transactions
    # that read, then write what they read, ask for the write lock up front instead.
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


#: The database whose SQLite write lock this thread holds (see ``Database.session``).
_held = threading.local()


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
    def session(self, *, readonly: bool = False, immediate: bool = True) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error.

        On SQLite a transaction that may write takes the write lock at its start (``BEGIN
        IMMEDIATE``), waiting up to the busy timeout for its turn. Why: a transaction that
        reads first and writes later fails at once with "database is locked" when another
        connection committed in between (its snapshot went stale; SQLite does not wait), which
        under concurrent adds and withdrawals refused a survivor's withdrawal within 0.1 s.
        ``readonly=True`` is for transactions that never write (lookups, index loads, the
        change tailer): they read a snapshot and neither wait for nor hold up any writer. A
        thread must not open a second session while it holds a writing one (it would wait
        for its own lock): that is refused with an error. PostgreSQL needs none of this (row
        locks; the conditional UPDATEs decide).
        """
        writing = self.is_sqlite and immediate and not readonly
        if writing and getattr(_held, "database", None) is self:
            raise RuntimeError(
                "a SQLite write session was opened while this thread holds another: "
                "it would wait for its own lock (use readonly=True or one session)"
            )
        with self.sessions() as session, session.begin():
            if writing:
                session.connection(execution_options={_IMMEDIATE: True})
                _held.database = self
            try:
                yield session
            finally:
                if writing:
                    _held.database = None

    def write(self, work: Callable[[Session], T], *, attempts: int = 4) -> T:
        """Run ``work`` in a write transaction, again from the start when the database asks.

        Why: a survivor's withdrawal or a new portal case must never be refused because the
        service is busy. SQLite answers "database is locked" once its busy timeout is spent
        (a long bulk write); PostgreSQL aborts one side of a deadlock or a serialisation
        conflict and expects the client to retry. Nothing of an aborted attempt was
        committed, so running ``work`` again is safe; ``work`` must not act outside the
        session (publish, send) — do that after this returns.
        """
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as session:
                    return work(session)
            except DBAPIError as error:
                if attempt == attempts or not retryable(error):
                    raise
                log.warning("write transaction retried (%d/%d): %s", attempt, attempts, error.orig)
                time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


#: PostgreSQL's "retry this transaction" SQLSTATEs: serialisation failure, deadlock.
_RETRY_STATES = frozenset({"40001", "40P01"})


def retryable(error: DBAPIError) -> bool:
    """Whether the database refused this transaction only because of another one."""
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "database is locked" in text or "database is busy" in text
    return getattr(orig, "sqlstate", None) in _RETRY_STATES


def create_database(url: str, *, echo: bool = False) -> Database:
    """Open (not create tables in) the database at ``url``; see :func:`upgrade` for schema."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            database = Path(parsed.database)
            private_dir(database.parent, tighten=False)
            private_sqlite_file(database)
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,  # error messages reach logs: no hashes, digests or PINs
            connect_args={"check_same_thread": False, "isolation_level": None},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        url, connect_args = _postgres_connect_args(parsed)
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args=connect_args,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
        )
    return Database(url, engine, sessionmaker(engine, expire_on_commit=False))


@contextmanager
def scratch_schema(url: str, prefix: str = "hw_scratch") -> Iterator[str]:
    """A PostgreSQL URL whose connections use a new, empty schema, dropped on exit.

    For tests and benchmarks that share one database with other runs at the same time: what
    they write is only seen inside their schema, and nothing is left behind.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
