"""webhook secrets sealed at rest: room for the ciphertext

Revision ID: 0008_sealed_webhook_secrets
Revises: 0007_takedown
Create Date: 2026-11-27 03:00:00

A sealed 200-character secret (``hashwall.service.sealed``: prefix + base64 of nonce,
ciphertext and tag) is 314 characters, so the column grows to 400. The values themselves are
sealed by the service at start-up, because only it holds the key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_sealed_webhook_secrets"
down_revision = "0007_takedown"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_webhooks") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(200), type_=sa.String(400), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_webhooks") as batch:
        batch.alter_column(
            "secret", existing_type=sa.String(400), type_=sa.String(200), existing_nullable=False
        )
