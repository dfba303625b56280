"""The process store: workflows, processes, their steps and inputs, and the engine switch.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from orchestrion.db.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = ("schema",)  # orchestrator-core's label for its schema branch, so `schema@head` means ours
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    engine_settings = op.create_table(
        "engine_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("global_lock", sa.Boolean(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
    )
    op.bulk_insert(engine_settings, [{"id": 1, "global_lock": False, "changed_at": datetime.now(UTC)}])
    op.create_table(
        "workflows",
        sa.Column("workflow_id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("is_task", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "processes",
        sa.Column("process_id", sa.Uuid(), primary_key=True),
        sa.Column("workflow_id", sa.Uuid(), sa.ForeignKey("workflows.workflow_id"), nullable=False, index=True),
        sa.Column("workflow_fingerprint", sa.String(64), nullable=False),
        sa.Column("assignee", sa.String(50), nullable=False),
        sa.Column("last_status", sa.String(50), nullable=False, index=True),
        sa.Column("last_step", sa.String(255)),
        sa.Column("started_at", UtcDateTime(), nullable=False, index=True),
        sa.Column("last_modified_at", UtcDateTime(), nullable=False, index=True),
        sa.Column("failed_reason", sa.Text()),
        sa.Column("traceback", sa.Text()),
        sa.Column("created_by", sa.String(255)),
        sa.Column("is_task", sa.Boolean(), nullable=False, index=True),
        sa.Column("note", sa.Text()),
        sa.Column("cursor", JSON),
        sa.Column("state", JSON, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_row_key", sa.String(255)),
        sa.Column("abort_requested", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.String(255)),
        sa.Column("lease_until", UtcDateTime()),
        sa.Column("callback_token", sa.String(128)),
        sa.Column("callback_deadline", UtcDateTime()),
        sa.Column("callback_progress", JSON),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("next_retry_at", UtcDateTime()),
    )
    op.create_table(
        "input_states",
        sa.Column("input_state_id", sa.Uuid(), primary_key=True),
        sa.Column("process_id", sa.Uuid(), sa.ForeignKey("processes.process_id", ondelete="CASCADE"), nullable=False),
        sa.Column("input_state", JSON, nullable=False),
        sa.Column("input_time", UtcDateTime(), nullable=False),
        sa.Column("input_type", sa.String(32), nullable=False),
    )
    op.create_index("ix_input_states_process_id", "input_states", ["process_id"])
    op.create_table(
        "process_steps",
        sa.Column("step_id", sa.Uuid(), primary_key=True),
        sa.Column("process_id", sa.Uuid(), sa.ForeignKey("processes.process_id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("step_key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("created_by", sa.String(255)),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("process_id", "seq", name="uq_process_steps_process_seq"),
    )


def downgrade() -> None:
    op.drop_table("process_steps")
    op.drop_index("ix_input_states_process_id", table_name="input_states")
    op.drop_table("input_states")
    op.drop_table("processes")
    op.drop_table("workflows")
    op.drop_table("engine_settings")
