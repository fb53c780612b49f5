"""banks: entry_source, public_actions, review_new_entries; api_keys: bank_ids

Revision ID: 0014_public_entries
Revises: 0011_signal_ids_never_reused
Create Date: 2026-12-07 19:30:00

Anyone can put hashes into the portal and takedown banks (no account), so their matches may
only lead to human review unless an operator opts in (issue 14, item 5; docs/security.md).
``banks.entry_source`` names where a bank's entries come from (``portal``, ``takedown``;
NULL: curated through the API); ``public_actions`` is the operator's opt-in to automatic
actions for such a bank; ``review_new_entries`` holds new public entries for review before
they match. ``api_keys.bank_ids`` limits a key to some banks (NULL: all).

Existing system banks are marked from their data: the banks portal cases point at, and the
banks holding removal-request entries (source ``takedown:...``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_public_entries"
down_revision = "0013_review_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: on SQLite a batch copy drops and re-creates the
    # table, and dropping ``banks`` would cascade to every entry.
    op.add_column("banks", sa.Column("entry_source", sa.String(16), nullable=True))
    op.add_column(
        "banks",
        sa.Column("public_actions", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "banks",
        sa.Column("review_new_entries", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("api_keys", sa.Column("bank_ids", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE banks SET entry_source = 'portal' WHERE id IN (SELECT bank_id FROM portal_cases)"
    )
    op.execute(
        "UPDATE banks SET entry_source = 'takedown' WHERE entry_source IS NULL "
        "AND id IN (SELECT bank_id FROM entries WHERE source LIKE 'takedown:%')"
    )


def downgrade() -> None:
    op.drop_column("api_keys", "bank_ids")
    for column in ("review_new_entries", "public_actions", "entry_source"):
        op.drop_column("banks", column)
