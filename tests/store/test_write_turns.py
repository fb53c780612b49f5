"""SQLite writers wait their turn: read-then-write transactions under contention never fail.

Before: a transaction that read first and wrote later got "database is locked" at once when
another connection had committed in between (a stale snapshot; the busy timeout does not
apply), which refused survivors' withdrawals under load. Now every writing session takes the
write lock at its start, and ``Database.write`` re-runs a transaction the database refused.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hashwall.store import create_database
from hashwall.store.db import Database, retryable

THREADS = 6
ROUNDS = 40


def _counter_db(tmp_path: Path) -> Database:
    db = create_database(f"sqlite:///{tmp_path / 'turns.db'}")
    with db.session() as session:
        session.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        session.execute(text("INSERT INTO counter VALUES (1, 0)"))
    return db


def _increment(session: Session) -> None:
    """Read, think, then write what was read: the pattern of a withdrawal."""
    n = session.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
    session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})


def _hammer(db: Database) -> list[BaseException]:
    errors: list[BaseException] = []

    def run() -> None:
        for _ in range(ROUNDS):
            try:
                with db.session() as session:
                    _increment(session)
            except BaseException as error:  # collected, asserted below
                errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_read_then_write_transactions_all_commit(tmp_path: Path) -> None:
    db = _counter_db(tmp_path)
    try:
        errors = _hammer(db)
        assert errors == []
        with db.session(readonly=True) as session:
            total = session.execute(text("SELECT n FROM counter")).scalar_one()
        assert total == THREADS * ROUNDS  # no lost update either
    finally:
        db.dispose()


def test_deferred_transactions_would_fail_without_it(tmp_path: Path) -> None:
    """The control: the same load with plain (deferred) transactions does fail, so the test
    above measures the fix and not a quiet machine."""
    db = _counter_db(tmp_path)
    failures = 0
    lock = threading.Lock()

    def run() -> None:
        nonlocal failures
        for _ in range(ROUNDS):
            try:
                with db.session(immediate=False) as session:
                    _increment(session)
                    session.execute(text("SELECT 1"))
            except OperationalError as error:
                assert "locked" in str(error.orig)
                with lock:
                    failures += 1

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.dispose()
    assert failures > 0


def test_a_second_write_session_in_the_same_thread_is_refused(tmp_path: Path) -> None:
    db = _counter_db(tmp_path)
    try:
        with db.session(), pytest.raises(RuntimeError, match="its own lock"), db.session():
            pass
        with db.session(), db.session(readonly=True) as reader:  # reading inside is fine
            assert reader.execute(text("SELECT n FROM counter")).scalar_one() == 0
    finally:
        db.dispose()


def test_write_reruns_a_refused_transaction(tmp_path: Path) -> None:
    db = _counter_db(tmp_path)
    attempts: list[int] = []

    def flaky(session: Session) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
        _increment(session)
        return "done"

    try:
        assert db.write(flaky) == "done"
        assert len(attempts) == 3
        with db.session(readonly=True) as session:
            assert session.execute(text("SELECT n FROM counter")).scalar_one() == 1
    finally:
        db.dispose()


def test_write_does_not_retry_other_errors(tmp_path: Path) -> None:
    db = _counter_db(tmp_path)
    attempts: list[int] = []

    def broken(session: Session) -> None:
        attempts.append(1)
        session.execute(text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(OperationalError):
            db.write(broken)
        assert len(attempts) == 1
    finally:
        db.dispose()


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: x"), False),
        (_PgError("40001"), True),  # serialization_failure
        (_PgError("40P01"), True),  # deadlock_detected
        (_PgError("23505"), False),  # unique_violation: a real conflict, not a retry
    ],
)
def test_retryable(orig: Exception, expected: bool) -> None:
    assert retryable(OperationalError("SQL", {}, orig)) is expected
