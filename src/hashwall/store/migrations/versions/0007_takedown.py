"""removal requests on the platform side: cases, removal tasks, takedown sweep jobs

Revision ID: 0007_takedown
Revises: 0006_audit_log
Create Date: 2026-11-29 10:00:00

``takedown_jobs`` rows are committed with their case so that a crash between intake and the
catalog sweep is finished at the next start; ``removal_tasks`` is unique per (case, catalog
item) so a re-run sweep never creates a second task for the same copy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_takedown"
down_revision = "0006_audit_log"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NOW = sa.DateTime(timezone=True)
_CASE_STATES = (
    "received",
    "under_review",
    "actioned",
    "rejected",
    "requester_notified",
    "appealed",
    "withdrawn",
    "closed",
)


def _enum(values: tuple[str, ...], name: str, length: int = 16) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _requests() -> None:
    op.create_table(
        "removal_requests",
        sa.Column("id", _ID, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("state", _enum(_CASE_STATES, "removal_state", 24), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("received_at", _NOW, nullable=False),
        sa.Column("due_at", _NOW, nullable=False),
        sa.Column("statutory", sa.Boolean(), nullable=False),
        sa.Column("requester_name", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("upload_name", sa.String(500), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("appeals", sa.Integer(), nullable=False),
        sa.Column("decided_at", _NOW, nullable=True),
        sa.Column("escalated_at", _NOW, nullable=True),
        sa.Column("escalation_status", sa.String(16), nullable=True),
        sa.Column("escalation_attempts", sa.Integer(), nullable=False),
        sa.Column("escalation_next_at", _NOW, nullable=True),
        sa.Column("escalation_error", sa.String(500), nullable=False),
        sa.Column("claim_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _NOW, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    op.create_index("ix_removal_requests_state_due", "removal_requests", ["state", "due_at"])


def _tasks() -> None:
    statuses = ("pending", "sent", "confirmed", "failed")
    op.create_table(
        "removal_tasks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("catalog_item_id", _ID, nullable=True),
        sa.Column("content_id", sa.String(500), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("signal", sa.String(16), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("query_variant", sa.String(32), nullable=False),
        sa.Column("match_record_id", sa.BigInteger(), nullable=True),
        sa.Column("status", _enum(statuses, "removal_task_status"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _NOW, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("claim_version", sa.Integer(), nullable=False),
        sa.Column("sent_at", _NOW, nullable=True),
        sa.Column("confirmed_at", _NOW, nullable=True),
        sa.Column("confirmed_by", sa.String(200), nullable=True),
        sa.Column("created_at", _NOW, nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["removal_requests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["catalog_item_id"], ["catalog_items.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "catalog_item_id", name="uq_removal_task_item"),
    )
    op.create_index("ix_removal_tasks_request_id", "removal_tasks", ["request_id"])
    op.create_index("ix_removal_tasks_due", "removal_tasks", ["status", "next_attempt_at"])


def _jobs() -> None:
    op.create_table(
        "takedown_jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("request_id", _ID, nullable=False),
        sa.Column("status", _enum(("pending", "done"), "takedown_job_status"), nullable=False),
        sa.Column("entry_ids", sa.JSON(), nullable=False),
        sa.Column("sweep_job_ids", sa.JSON(), nullable=False),
        sa.Column("tasks_created", sa.Integer(), nullable=False),
        sa.Column("created_at", _NOW, nullable=False),
        sa.Column("finished_at", _NOW, nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["removal_requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_takedown_jobs_request_id", "takedown_jobs", ["request_id"])
    op.create_index("ix_takedown_jobs_status", "takedown_jobs", ["status"])


def upgrade() -> None:
    _requests()
    _tasks()
    _jobs()


def downgrade() -> None:
    op.drop_table("takedown_jobs")
    op.drop_table("removal_tasks")
    op.drop_table("removal_requests")
