"""Workflows for the fibre products, and a task.

Revision ID: d9a0c3b6e722
Revises: c41f5e8a2b11
Create Date: 2025-03-03
"""

from alembic import op

from orchestrion.migrations.helpers import create_task, create_workflow, delete_workflow

revision = "d9a0c3b6e722"
down_revision = "c41f5e8a2b11"
branch_labels = None
depends_on = None

new_workflows = [
    {"name": "create_fibre", "target": "CREATE", "description": "Create a fibre", "product_type": "Fibre"},
    {"name": "terminate_fibre", "target": "TERMINATE", "description": "Terminate a fibre", "product_type": "Fibre"},
    {"name": "modify_patch_bundle", "target": "MODIFY", "description": "Re-patch", "product_type": "PatchBundle"},
]
new_task = {"name": "task_audit_patch_panels", "description": "Audit the patch panels"}


def upgrade() -> None:
    conn = op.get_bind()
    for workflow in new_workflows:
        create_workflow(conn, workflow)
    create_task(conn, new_task)


def downgrade() -> None:
    conn = op.get_bind()
    for workflow in new_workflows:
        delete_workflow(conn, workflow["name"])
    delete_workflow(conn, new_task["name"])
