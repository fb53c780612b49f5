"""match_rollups: counts kept from match records past their retention

Revision ID: 0015_match_rollups
Revises: 0014_public_entries
Create Date: 2026-12-07 23:40:00

Match records older than ``HASHWALL_MATCH_RECORD_RETENTION_DAYS`` are deleted in batches
(issue 20: the table grew by every match and slowed matching); their counts per entry, bank
and API key are added to this table first, so the survivor's status page still shows how
often each platform matched and removed (service/retention.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_match_rollups"
down_revision = "0014_public_entries"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "match_rollups",
        sa.Column("id", _BIG_ID, primary_key=True),
        sa.Column(
            "entry_id", _BIG_ID, sa.ForeignKey("entries.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "bank_id", _BIG_ID, sa.ForeignKey("banks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("api_key_id", sa.BigInteger(), nullable=False),
        sa.Column("first_record_id", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matches", sa.BigInteger(), nullable=False),
        sa.Column("removals", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("entry_id", "bank_id", "api_key_id", name="uq_match_rollup"),
    )


def downgrade() -> None:
    op.drop_table("match_rollups")
