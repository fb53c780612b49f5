"""The ``audit_log`` table backend (SQLite, and PostgreSQL when configured) and the
``hashwall audit verify`` command on both backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from hashwall.cases.audit import JsonlAuditStore, check
from hashwall.cases.audit_db import AuditLogRow, SqlAuditStore, append_in_session
from hashwall.cli.app import app
from hashwall.store import Database, create_database
from tests.cases.conftest import FakeClock

runner = CliRunner()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = create_database(database_url)
    AuditLogRow.metadata.create_all(database.engine, tables=[AuditLogRow.__table__])  # type: ignore[list-item]
    yield database
    database.dispose()


def _fill(db: Database, count: int = 5) -> SqlAuditStore:
    store = SqlAuditStore(db.sessions, FakeClock())
    for number in range(count):
        store.append(
            actor="system", action="step", case_id=f"C-{number % 2}", data={"n": number, "é": "ü"}
        )
    return store


def test_round_trip_is_intact(db: Database) -> None:
    store = _fill(db)
    result = check(store)
    assert result.intact and result.entries == 5
    assert result.head == store.head()
    assert [entry.seq for entry in store.entries_for_case("C-1")] == [2, 4]


def test_append_joins_the_callers_transaction(db: Database) -> None:
    store = _fill(db, 2)
    with pytest.raises(RuntimeError), db.session() as session:
        append_in_session(session, FakeClock(), actor="reviewer:1", action="case.actioned")
        raise RuntimeError("the state change failed")
    assert check(store).entries == 2  # rolled back together


@pytest.mark.parametrize(
    ("statement", "position", "reason"),
    [
        ("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3", 2, "edited"),
        ('UPDATE audit_log SET data = \'{"n":2,"é":"x"}\' WHERE seq = 3', 2, "edited"),
        ("DELETE FROM audit_log WHERE seq = 2", 1, "seq is 3, expected 2"),
        ("UPDATE audit_log SET seq = 99 WHERE seq = 4", 3, "seq is 5, expected 4"),
        ("UPDATE audit_log SET data = 'not json' WHERE seq = 4", 3, "data is not JSON"),
    ],
)
def test_database_tampering_is_named(
    db: Database, database_url: str, statement: str, position: int, reason: str
) -> None:
    store = _fill(db)
    with db.engine.begin() as connection:
        connection.exec_driver_sql(statement)
    problem = check(store).problem
    assert problem is not None and problem.position == position and reason in problem.reason
    outcome = runner.invoke(app, ["audit", "verify", "--database-url", database_url])
    assert outcome.exit_code == 1, outcome.output
    assert f"BROKEN at entry #{position + 1}" in outcome.output and reason in outcome.output


def test_cli_on_an_intact_database(db: Database, database_url: str) -> None:
    store = _fill(db, 3)
    outcome = runner.invoke(app, ["audit", "verify", "--database-url", database_url])
    assert outcome.exit_code == 0, outcome.output
    assert f"intact, 3 entries, head {store.head()}" in outcome.output


def test_concurrent_appends_retry_instead_of_forking(db: Database) -> None:
    def worker() -> None:
        store = SqlAuditStore(db.sessions)
        for number in range(10):
            store.append(actor="system", action="step", data={"n": number})

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = check(SqlAuditStore(db.sessions))
    assert result.intact and result.entries == 30


def test_cli_file_backend_and_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    store = JsonlAuditStore(path, FakeClock())
    store.append(actor="system", action="a")
    store.append(actor="system", action="b")
    head = store.head()
    ok = runner.invoke(app, ["audit", "verify", "--file", str(path), "--expect-head", str(head)])
    assert ok.exit_code == 0 and "intact, 2 entries" in ok.output
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n")
    cut = runner.invoke(app, ["audit", "verify", "--file", str(path), "--expect-head", str(head)])
    assert cut.exit_code == 1 and "entry #2 (seq 2): missing" in cut.output
    for args in (
        [],
        ["--file", str(path), "--database-url", "sqlite:///x.db"],
        ["--file", str(tmp_path / "nope.jsonl")],
        ["--file", str(path), "--expect-head", "garbage"],
        ["--database-url", "mysql://x/y"],
        ["--database-url", f"sqlite:///{tmp_path / 'empty.db'}"],
    ):
        outcome = runner.invoke(app, ["audit", "verify", *args])
        assert outcome.exit_code == 2, (args, outcome.output)
        assert outcome.output.startswith("error: "), outcome.output
        assert len(outcome.output.strip().splitlines()) == 1
