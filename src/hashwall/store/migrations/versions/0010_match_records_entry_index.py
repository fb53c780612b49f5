"""match_records: drop ix_match_records_entry_id, which uq_match_entry_catalog already covers

Revision ID: 0010_match_records_entry_index
Revises: 0009_entries_case_ref_index
Create Date: 2026-11-27 05:30:00

The unique constraint on (entry_id, catalog_item_id) is an index whose leading column is
entry_id, so every lookup by entry (flood counts, an entry's records, cascades) can use it.
The second index on entry_id alone only cost writes: each match record dirtied one more
B-tree page at a random place (entries are matched in no particular order), about a quarter
of what a commit of match records wrote (benchmarks/service_bench.py; docs/service.md).
"""

from __future__ import annotations

from alembic import op

revision = "0010_match_records_entry_index"
down_revision = "0009_entries_case_ref_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain DROP INDEX (no batch mode): SQLite need not copy a large table for it.
    op.drop_index("ix_match_records_entry_id", table_name="match_records")


def downgrade() -> None:
    op.create_index("ix_match_records_entry_id", "match_records", ["entry_id"])
