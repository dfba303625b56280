"""Schedules and the scheduler's leader lease, with the built-in schedules.

The built-in schedules are inserted here, so they exist from the first start and exactly once: a
schedule an operator edits or deletes stays that way. They start unplanned (``next_run_at`` NULL);
the active scheduler plans them from its own clock.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from orchestrion.db.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# name, task, trigger, cron expression, interval seconds
INITIAL_SCHEDULES = [
    ("resume-workflows", "task_resume_workflows", "interval", None, 30),
    ("validate-awaiting-callbacks", "task_validate_awaiting_callbacks", "interval", None, 30),
    ("clean-up-tasks", "task_clean_up_tasks", "interval", None, 6 * 3600),
    ("validate-products", "task_validate_products", "cron", "30 2 * * *", None),
]


def upgrade() -> None:
    schedules = op.create_table(
        "schedules",
        sa.Column("schedule_id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("workflow_name", sa.String(255), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("cron_expression", sa.String(255)),
        sa.Column("interval_seconds", sa.Integer()),
        sa.Column("user_inputs", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("misfire_policy", sa.String(16), nullable=False),
        sa.Column("next_run_at", UtcDateTime()),
        sa.Column("last_run_at", UtcDateTime()),
        sa.Column("last_process_id", sa.Uuid()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_schedules_enabled_next_run_at", "schedules", ["enabled", "next_run_at"])
    leader = op.create_table(
        "scheduler_leader",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("holder", sa.String(255)),
        sa.Column("lease_until", UtcDateTime()),
    )
    op.bulk_insert(leader, [{"id": 1, "holder": None, "lease_until": None}])
    now = datetime.now(UTC)
    op.bulk_insert(
        schedules,
        [
            {
                "schedule_id": uuid.uuid4(),
                "name": name,
                "workflow_name": task,
                "trigger": trigger,
                "cron_expression": cron,
                "interval_seconds": seconds,
                "user_inputs": [{}],
                "enabled": True,
                "misfire_policy": "run_once",
                "next_run_at": None,
                "created_at": now,
            }
            for name, task, trigger, cron, seconds in INITIAL_SCHEDULES
        ],
    )


def downgrade() -> None:
    op.drop_table("scheduler_leader")
    op.drop_index("ix_schedules_enabled_next_run_at", "schedules")
    op.drop_table("schedules")
