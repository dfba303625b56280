"""A product and a validate workflow added in plain SQL, as many applications' migrations do.

The ids and creation times come from the database's server defaults.

Revision ID: e58b1d7f4a33
Revises: d9a0c3b6e722
Create Date: 2025-03-04
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.migrations.helpers import delete, delete_workflow

revision = "e58b1d7f4a33"
down_revision = "d9a0c3b6e722"
branch_labels = None
depends_on = None

STATEMENTS = [
    "INSERT INTO products (name, description, product_type, tag, status) "
    "VALUES ('Fibre 1G', 'Dark fibre, 1 Gbit/s optics', 'Fibre', 'FIBRE', 'active') ON CONFLICT DO NOTHING",
    "INSERT INTO product_product_blocks (product_id, product_block_id) "
    "SELECT p.product_id, b.product_block_id FROM products AS p, product_blocks AS b "
    "WHERE p.name = 'Fibre 1G' AND b.name = 'FibreBlock'",
    "INSERT INTO fixed_inputs (name, value, product_id) SELECT 'speed', '1', product_id FROM products "
    "WHERE name = 'Fibre 1G'",
    "INSERT INTO resource_types (resource_type, description) VALUES ('splice_count', 'Number of splices')",
    "INSERT INTO product_block_resource_types (product_block_id, resource_type_id) "
    "SELECT b.product_block_id, r.resource_type_id FROM product_blocks AS b, resource_types AS r "
    "WHERE b.name = 'FibreBlock' AND r.resource_type = 'splice_count'",
    "INSERT INTO workflows (name, target, description) "
    "VALUES ('validate_fibre', 'VALIDATE', 'Validate a fibre') ON CONFLICT DO NOTHING",
    # Already there (the previous revision): the conflict on the name leaves that row as it is.
    "INSERT INTO workflows (name, target, description) "
    "VALUES ('create_fibre', 'CREATE', 'Overwritten?') ON CONFLICT DO NOTHING",
    "INSERT INTO products_workflows (product_id, workflow_id) "
    "SELECT p.product_id, w.workflow_id FROM products AS p, workflows AS w "
    "WHERE p.product_type = 'Fibre' AND w.name = 'validate_fibre'",
    "UPDATE workflows SET is_task = TRUE WHERE target = 'VALIDATE'",
]


def upgrade() -> None:
    conn = op.get_bind()
    for statement in STATEMENTS:
        conn.execute(sa.text(statement))


def downgrade() -> None:
    conn = op.get_bind()
    delete_workflow(conn, "validate_fibre")
    delete(conn, {"products": ["Fibre 1G"], "resource_types": ["splice_count"]})
