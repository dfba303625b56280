"""The built-in tasks' ``workflows`` rows, as orchestrator-core's schema migrations create its own.

Without a row a task exists for the engine but not for the catalogue: orchestrator-ui's task list,
its "New task" choices and the scheduled tasks' names come from the rows, and a task got its row
only when it first ran. A row that is already there (the task ran) is left as it is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TASKS = {
    "task_resume_workflows": "Resume waiting processes whose retry time has come",
    "task_validate_awaiting_callbacks": "Fail processes whose callback did not arrive before its deadline",
    "task_clean_up_tasks": "Delete completed task processes once they are older than the task log retention",
    "task_validate_products": "Check that the products and workflows in the database match the code",
}
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
    present = set(connection.execute(sa.select(_workflows.c.name).where(_workflows.c.name.in_(TASKS))).scalars())
    now = datetime.now(UTC)
    rows = [
        {"workflow_id": uuid.uuid4(), "name": name, "target": "SYSTEM", "description": text, "is_task": True}
        for name, text in TASKS.items()
        if name not in present
    ]
    if rows:
        connection.execute(_workflows.insert(), [{**row, "created_at": now} for row in rows])


def downgrade() -> None:
    pass  # the rows stay: processes of the tasks refer to them
