"""The ``workflows`` row of the built-in task ``task_run_on_subscriptions``, as 0008 made the others'.

A row already there (the task ran before this revision) is left as it is.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op

from orchestrion.migrations.helpers import create_task

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_task(
        op.get_bind(),
        {"name": "task_run_on_subscriptions", "description": "Run a workflow on every subscription matching a filter"},
    )


def downgrade() -> None:
    pass  # the row stays: processes of the task refer to it
