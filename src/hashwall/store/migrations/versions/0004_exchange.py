"""exchanges: bank origins and sequences, source checkpoints, remote-id links

Revision ID: 0004_exchange
Revises: 0003_catalog_actions
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_exchange"
down_revision = "0003_catalog_actions"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchange_origins",
        sa.Column("bank_id", _ID, nullable=False),
        sa.Column("origin", sa.String(36), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("bank_id"),
        sa.UniqueConstraint("origin"),
    )
    op.create_table(
        "exchange_sources",
        sa.Column("id", _ID, nullable=False),
        sa.Column("bank_id", _ID, nullable=False),
        sa.Column("origin", sa.String(100), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", sa.JSON(), nullable=False),
        sa.Column("updated_at", _NOW, nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_id", "origin", name="uq_exchange_source"),
    )
    op.create_table(
        "exchange_links",
        sa.Column("id", _ID, nullable=False),
        sa.Column("bank_id", _ID, nullable=False),
        sa.Column("origin", sa.String(100), nullable=False),
        sa.Column("remote_id", sa.String(200), nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_id", "origin", "remote_id", name="uq_exchange_link"),
    )
    op.create_index("ix_exchange_links_entry_id", "exchange_links", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_exchange_links_entry_id", table_name="exchange_links")
    op.drop_table("exchange_links")
    op.drop_table("exchange_sources")
    op.drop_table("exchange_origins")
