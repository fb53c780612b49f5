"""likeness protection: enrolled templates (encrypted) with consent records, audit log

Revision ID: 0005_likeness
Revises: 0004_exchange
Create Date: 2026-11-29 12:00:00

Templates are backed by entries of the likeness bank (content type ``likeness``), so the
existing ``changes`` kinds suffice and no CHECK constraint changes here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_likeness"
down_revision = "0004_exchange"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "likeness_templates",
        sa.Column("id", _ID, nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("embedding_count", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=True),
        sa.Column("consent_subject", sa.String(200), nullable=False),
        sa.Column("consent_statement", sa.Text(), nullable=False),
        sa.Column("consent_purpose", sa.String(200), nullable=False),
        sa.Column("consent_given_at", _NOW, nullable=False),
        sa.Column("consent_expires_at", _NOW, nullable=True),
        sa.Column("consent_verification", sa.String(500), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("revocation_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _NOW, nullable=False),
        sa.Column("revoked_at", _NOW, nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("template_id"),
        sa.UniqueConstraint("entry_id"),
    )
    op.create_table(
        "likeness_audit",
        sa.Column("id", _ID, nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", _NOW, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_likeness_audit_template_id", "likeness_audit", ["template_id"])


def downgrade() -> None:
    op.drop_index("ix_likeness_audit_template_id", table_name="likeness_audit")
    op.drop_table("likeness_audit")
    op.drop_table("likeness_templates")
