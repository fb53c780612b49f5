"""catalog, retroactive sweep, review queue, webhooks, flood quarantine

Revision ID: 0003_catalog_actions
Revises: 0002_portal
Create Date: 2026-11-28 12:00:00

``entries.state`` gains ``quarantined`` and ``changes.kind`` gains ``catalog`` and
``catalog_import``: both are CHECK constraints (non-native enums), replaced here. SQLite cannot
alter a constraint, so there the table is rebuilt by Alembic's batch mode.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_catalog_actions"
down_revision = "0002_portal"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NOW = sa.DateTime(timezone=True)

_ENTRY_STATES_OLD = ("active", "withdrawn", "deleted")
_ENTRY_STATES_NEW = (*_ENTRY_STATES_OLD, "quarantined")
_CHANGE_KINDS_OLD = ("entry", "bank", "import")
_CHANGE_KINDS_NEW = (*_CHANGE_KINDS_OLD, "catalog", "catalog_import")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _replace_check(table: str, column: str, name: str, old: tuple[str, ...], new: tuple[str, ...]):  # type: ignore[no-untyped-def]
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.alter_column(
                column, existing_type=_enum(old, name), type_=_enum(new, name), nullable=False
            )
        return
    op.drop_constraint(name, table, type_="check")
    allowed = ", ".join(f"'{value}'" for value in new)
    op.create_check_constraint(name, table, f"{column} IN ({allowed})")


def upgrade() -> None:
    _replace_check("entries", "state", "entry_state", _ENTRY_STATES_OLD, _ENTRY_STATES_NEW)
    _replace_check("changes", "kind", "change_kind", _CHANGE_KINDS_OLD, _CHANGE_KINDS_NEW)
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("flood_threshold", sa.Integer(), nullable=True))

    op.create_table(
        "catalog_imports",
        sa.Column("id", _ID, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _NOW, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_table(
        "catalog_items",
        sa.Column("id", _ID, nullable=False),
        sa.Column("content_id", sa.String(500), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("state", _enum(("active", "removed"), "catalog_state"), nullable=False),
        sa.Column("content_type", sa.String(16), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("import_id", _ID, nullable=True),
        sa.Column("created_at", _NOW, nullable=False),
        sa.Column("updated_at", _NOW, nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["catalog_imports.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_id"),
    )
    op.create_index("ix_catalog_items_import_id", "catalog_items", ["import_id"])
    op.create_table(
        "catalog_signals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("item_id", _ID, nullable=False),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("variant", sa.String(32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_key", sa.String(64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["catalog_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_catalog_signals_item_id", "catalog_signals", ["item_id"])
    op.create_index("ix_catalog_signals_value", "catalog_signals", ["signal_type", "value_key"])
    op.create_table(
        "sweep_jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column(
            "kind",
            _enum(("entry", "import", "bank", "catalog", "catalog_import"), "sweep_kind"),
            nullable=False,
        ),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("status", _enum(("pending", "done"), "sweep_status"), nullable=False),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("new_matches", sa.Integer(), nullable=False),
        sa.Column("created_at", _NOW, nullable=False),
        sa.Column("finished_at", _NOW, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sweep_jobs_status", "sweep_jobs", ["status"])

    with op.batch_alter_table("match_records") as batch:
        batch.add_column(sa.Column("catalog_item_id", _ID, nullable=True))
        batch.add_column(sa.Column("query_key", sa.String(80), nullable=True))
        batch.create_foreign_key(
            "fk_match_records_catalog_item_id",
            "catalog_items",
            ["catalog_item_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_match_records_catalog_item_id", ["catalog_item_id"])
        batch.create_unique_constraint("uq_match_entry_catalog", ["entry_id", "catalog_item_id"])

    op.create_table(
        "review_items",
        sa.Column("id", _ID, nullable=False),
        sa.Column("match_record_id", _ID, nullable=False),
        sa.Column("bank_id", _ID, nullable=False),
        sa.Column(
            "status",
            _enum(("pending", "confirmed", "false_positive"), "review_status"),
            nullable=False,
        ),
        sa.Column("query_signals", sa.Text(), nullable=False),
        sa.Column("claimed_by", sa.BigInteger(), nullable=True),
        sa.Column("claimed_at", _NOW, nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", _NOW, nullable=True),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("negative_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _NOW, nullable=False),
        sa.ForeignKeyConstraint(["match_record_id"], ["match_records.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_record_id"),
    )
    op.create_index("ix_review_items_status", "review_items", ["status", "id"])
    op.create_index("ix_review_items_bank_id", "review_items", ["bank_id"])
    op.create_table(
        "bank_webhooks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("bank_id", _ID, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _NOW, nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bank_webhooks_bank_id", "bank_webhooks", ["bank_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("webhook_id", _ID, nullable=False),
        sa.Column("match_record_id", _ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "status", _enum(("pending", "delivered", "failed"), "delivery_status"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_version", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("next_attempt_at", _NOW, nullable=False),
        sa.Column("delivered_at", _NOW, nullable=True),
        sa.Column("created_at", _NOW, nullable=False),
        sa.Column("updated_at", _NOW, nullable=False),
        sa.ForeignKeyConstraint(["webhook_id"], ["bank_webhooks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["match_record_id"], ["match_records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("webhook_id", "match_record_id", name="uq_delivery_webhook_match"),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_deliveries_match_record_id", "webhook_deliveries", ["match_record_id"]
    )
    op.create_table(
        "entry_quarantines",
        sa.Column("id", _ID, nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("distinct_items", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column(
            "decision",
            _enum(("reinstated", "deleted"), "quarantine_decision"),
            nullable=True,
        ),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", _NOW, nullable=True),
        sa.Column("created_at", _NOW, nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_entry_quarantines_entry_id", "entry_quarantines", ["entry_id"])


def downgrade() -> None:
    for table in (
        "entry_quarantines",
        "webhook_deliveries",
        "bank_webhooks",
        "review_items",
    ):
        op.drop_table(table)
    with op.batch_alter_table("match_records") as batch:
        batch.drop_constraint("uq_match_entry_catalog", type_="unique")
        batch.drop_index("ix_match_records_catalog_item_id")
        batch.drop_constraint("fk_match_records_catalog_item_id", type_="foreignkey")
        batch.drop_column("query_key")
        batch.drop_column("catalog_item_id")
    for table in ("sweep_jobs", "catalog_signals", "catalog_items", "catalog_imports"):
        op.drop_table(table)
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("flood_threshold")
    _replace_check("changes", "kind", "change_kind", _CHANGE_KINDS_NEW, _CHANGE_KINDS_OLD)
    _replace_check("entries", "state", "entry_state", _ENTRY_STATES_NEW, _ENTRY_STATES_OLD)
