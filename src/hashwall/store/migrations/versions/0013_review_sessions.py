"""review_sessions: reviewer log-ins the server can end

Revision ID: 0013_review_sessions
Revises: 0011_signal_ids_never_reused
Create Date: 2026-12-07 19:20:00

A reviewer's session cookie was only signed, so logging out could not take it back: a copy
kept working for up to 8 hours. Each log-in is now a row (a SHA-256 of the cookie's random
session id); log-out and key revocation delete it. Existing cookies carry no such id and end
with this upgrade (reviewers log in again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_review_sessions"
down_revision = "0011_signal_ids_never_reused"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_sessions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_review_sessions_key_id", "review_sessions", ["key_id"])
    op.create_index("ix_review_sessions_expires_at", "review_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_review_sessions_expires_at", table_name="review_sessions")
    op.drop_index("ix_review_sessions_key_id", table_name="review_sessions")
    op.drop_table("review_sessions")
