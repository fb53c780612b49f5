"""entries.case_ref indexed: removal requests look up their entries by it

Revision ID: 0009_entries_case_ref_index
Revises: 0008_sealed_webhook_secrets
Create Date: 2026-11-27 04:40:00

The takedown thread joins live cases to their takedown-bank entries on every poll, and
decisions, evidence packs and late-copy tasks select a case's entries; without an index each
of those scanned the whole entries table (10M rows in a large bank).
"""

from __future__ import annotations

from alembic import op

revision = "0009_entries_case_ref_index"
down_revision = "0008_sealed_webhook_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entries_case_ref", "entries", ["case_ref"])


def downgrade() -> None:
    op.drop_index("ix_entries_case_ref", table_name="entries")
