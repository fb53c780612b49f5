"""survivor portal: cases, case entries, PIN throttles, removal reports

Revision ID: 0002_portal
Revises: 0001
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_portal"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "portal_cases",
        sa.Column("id", _ID, nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("pin_hash", sa.String(length=256), nullable=False),
        sa.Column("bank_id", _ID, nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "active",
                "withdrawn",
                name="portal_case_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "portal_case_entries",
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["portal_cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "entry_id"),
    )
    with op.batch_alter_table("portal_case_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_case_entries_entry_id"), ["entry_id"], unique=False
        )
    op.create_table(
        "portal_throttles",
        sa.Column("id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "key", name="uq_portal_throttle"),
    )
    op.create_table(
        "portal_removals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("match_record_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["match_record_id"], ["match_records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_record_id"),
    )


def downgrade() -> None:
    op.drop_table("portal_removals")
    op.drop_table("portal_throttles")
    with op.batch_alter_table("portal_case_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_case_entries_entry_id"))
    op.drop_table("portal_case_entries")
    op.drop_table("portal_cases")
