"""Migrations that rewrite tables keep every row (SQLite copies a table to change it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from hashwall.store import Database, Entry, EntrySignal, create_database
from hashwall.store.migrate import current_revision, upgrade


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from hashwall.store.migrate import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def insert_bank(session: Session, name: str) -> int:
    """SQL, not the ORM: the model has columns that later migrations add."""
    session.execute(
        text(
            "INSERT INTO banks (name, description, enabled, negative, pdq_threshold, "
            "created_at, updated_at) VALUES (:name, '', true, false, 31, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"
        ),
        {"name": name},
    )
    return int(session.scalar(text("SELECT id FROM banks WHERE name = :n"), {"n": name}))


def md5_signal(value: str, row_id: int | None = None) -> EntrySignal:
    return EntrySignal(id=row_id, signal_type="md5", value=value, value_key=value)


def add_signal(db: Database, entry_id: int, value: str) -> None:
    with db.session() as session:
        signal = md5_signal(value)
        signal.entry_id = entry_id
        session.add(signal)


def test_0011_keeps_signal_rows_and_stops_reusing_their_ids(tmp_path: Path) -> None:
    db = create_database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(db.engine, "0010_match_records_entry_index")
        with db.session() as session:
            bank_id = insert_bank(session, "ncii")
            entry = Entry(bank_id=bank_id, content_type="photo")
            entry.signals = [md5_signal(f"{i:032x}", i) for i in (1, 2, 7)]
            session.add(entry)
            session.flush()
            entry_id = entry.id
        with db.session() as session:
            session.execute(delete(EntrySignal).where(EntrySignal.id == 7))

        upgrade(db.engine)  # through 0011 and everything after it

        assert current_revision(db.engine) == head_revision()
        with db.session() as session:
            rows = session.execute(select(EntrySignal.id, EntrySignal.value).order_by("id"))
            assert [tuple(row) for row in rows] == [(1, f"{1:032x}"), (2, f"{2:032x}")]
            indexes = session.scalars(
                text("SELECT name FROM sqlite_master WHERE tbl_name = 'entry_signals'")
            )
            assert {"ix_entry_signals_entry_id", "ix_entry_signals_value"} <= set(indexes)
        add_signal(db, entry_id, "x")
        with db.session() as session:
            session.execute(delete(EntrySignal).where(EntrySignal.value == "x"))
        add_signal(db, entry_id, "y")
        with db.session() as session:
            assert session.scalar(select(func.max(EntrySignal.id))) == 4  # 3 is never reused
    finally:
        db.dispose()


def test_0014_marks_existing_system_banks_as_public(tmp_path: Path) -> None:
    db = create_database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(db.engine, "0011_signal_ids_never_reused")
        with db.session() as session:
            ids = {name: insert_bank(session, name) for name in ("portal", "takedown", "curated")}
            session.execute(
                text(
                    "INSERT INTO portal_cases (number, pin_hash, bank_id, state, created_at) "
                    "VALUES ('HW-2222-2222', 'x', :b, 'active', CURRENT_TIMESTAMP)"
                ),
                {"b": ids["portal"]},
            )
            for bank, source in (("takedown", "takedown:hashes"), ("curated", "stopncii")):
                session.execute(
                    text(
                        "INSERT INTO entries (bank_id, state, content_type, label, source, "
                        "case_ref, metadata, created_at, updated_at) VALUES (:b, 'active', "
                        "'photo', '', :s, '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"b": ids[bank], "s": source},
                )
        upgrade(db.engine)
        with db.session() as session:
            marked = dict(session.execute(text("SELECT name, entry_source FROM banks")).all())
            opted = set(session.scalars(text("SELECT public_actions FROM banks")))
        assert marked == {"portal": "portal", "takedown": "takedown", "curated": None}
        assert opted == {0}
    finally:
        db.dispose()
