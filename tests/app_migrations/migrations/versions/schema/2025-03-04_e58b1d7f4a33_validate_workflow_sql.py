"""A validate workflow added in plain SQL, as many applications' migrations do.

Revision ID: e58b1d7f4a33
Revises: d9a0c3b6e722
Create Date: 2025-03-04
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.migrations.helpers import delete_workflow

revision = "e58b1d7f4a33"
down_revision = "d9a0c3b6e722"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "INSERT INTO workflows (name, target, description) "
            "VALUES ('validate_fibre', 'VALIDATE', 'Validate a fibre') ON CONFLICT DO NOTHING"
        )
    )
    # Already there (the previous revision): the conflict on the name leaves that row as it is.
    conn.execute(
        sa.text(
            "INSERT INTO workflows (name, target, description) "
            "VALUES ('create_fibre', 'CREATE', 'Overwritten?') ON CONFLICT DO NOTHING"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO products_workflows (product_id, workflow_id) "
            "SELECT p.product_id, w.workflow_id FROM products AS p, workflows AS w "
            "WHERE p.product_type = 'Fibre' AND w.name = 'validate_fibre'"
        )
    )
    conn.execute(sa.text("UPDATE workflows SET is_task = TRUE WHERE target = 'VALIDATE'"))


def downgrade() -> None:
    delete_workflow(op.get_bind(), "validate_fibre")
