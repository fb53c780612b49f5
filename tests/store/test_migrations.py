"""Migrations that rewrite tables keep every row (SQLite copies a table to change it)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, select, text

from hashwall.store import Bank, Database, Entry, EntrySignal, create_database
from hashwall.store.migrate import current_revision, upgrade


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
            bank = Bank(name="ncii")
            session.add(bank)
            session.flush()
            entry = Entry(bank_id=bank.id, content_type="photo")
            entry.signals = [md5_signal(f"{i:032x}", i) for i in (1, 2, 7)]
            session.add(entry)
            session.flush()
            entry_id = entry.id
        with db.session() as session:
            session.execute(delete(EntrySignal).where(EntrySignal.id == 7))

        upgrade(db.engine, "0011_signal_ids_never_reused")

        assert current_revision(db.engine) == "0011_signal_ids_never_reused"
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
