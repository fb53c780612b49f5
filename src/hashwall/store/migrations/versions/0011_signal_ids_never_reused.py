"""entry_signals, catalog_signals: ids never reused on SQLite (AUTOINCREMENT)

Revision ID: 0011_signal_ids_never_reused
Revises: 0010_match_records_entry_index
Create Date: 2026-11-27 07:40:00

Signal row ids are the ids of the in-memory Hamming indexes. Without AUTOINCREMENT, SQLite
gives a new row the largest rowid plus one, so deleting an entry whose hashes were the newest
rows (``deleted`` clears an entry's signals) and adding another handed the new hash the deleted
one's id. A worker that learnt of the addition before the deletion then held two owners for
one id: the index refused the addition and the change-log tailer stopped converging (a CI run
caught it in the StopNCII exchange test). With AUTOINCREMENT an id is never used twice, as with
PostgreSQL's sequences, for which this migration changes nothing.

SQLite cannot add AUTOINCREMENT to a table, so each table is copied into a new one (batch
mode keeps rows, ids and indexes): 3.5 s per million signal rows on the 2-core test machine,
once.
"""

from __future__ import annotations

from alembic import op

revision = "0011_signal_ids_never_reused"
down_revision = "0010_match_records_entry_index"
branch_labels = None
depends_on = None

_TABLES = ("entry_signals", "catalog_signals")


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
