"""The ``workflows`` row of the built-in task ``task_run_on_subscriptions``, as 0008 made the others'.

A row already there (the task ran before this revision) is left as it is.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NAME = "task_run_on_subscriptions"
DESCRIPTION = "Run a workflow on every subscription matching a filter"
_workflows = sa.table(
    "workflows",
    sa.column("workflow_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("target", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("is_task", sa.Boolean()),
    sa.column("created_at", UtcDateTime()),
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.execute(sa.select(_workflows.c.name).where(_workflows.c.name == NAME)).first() is None:
        row = {"workflow_id": uuid.uuid4(), "name": NAME, "target": "SYSTEM", "description": DESCRIPTION}
        connection.execute(_workflows.insert(), [{**row, "is_task": True, "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    pass  # the row stays: processes of the task refer to it
