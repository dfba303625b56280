"""Room for orchestrator-core applications' own migrations: server defaults for their SQL, and their anchors.

Applications write data migrations in plain SQL (``INSERT INTO workflows (name, target, description)
VALUES (...)``), so the catalogue tables generate their own ids and timestamps. Their data branch
``depends_on`` a revision of orchestrator-core's schema: every such revision id is a branch label
of this revision, so those migrations run unchanged, after the schema they need. On PostgreSQL the
``uuid-ossp`` extension is created, whose ``uuid_generate_v4()`` their tables use as a default (on
SQLite orchestrion provides that function itself).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import new_uuid

revision = "0004"
down_revision = "0003"
# The schema revisions of orchestrator-core (up to 5.5) that an application's data branch may depend on.
branch_labels = (
    "048219045729",
    "161918133bec",
    "165303a20fb1",
    "19cdd3ab86f6",
    "262744958e0c",
    "3323bcb934e7",
    "3c8b9185c221",
    "42b3d076a85b",
    "460ec6748e37",
    "4b58e336d1bf",
    "4c5859620539",
    "4fjdn13f83ga",
    "544fd845554d",
    "6896a54e9483",
    "68d14db1b8da",
    "850dccac3b02",
    "93fc5834c7e5",
    "961eddbd4c13",
    "9736496e3eba",
    "a09ac125ea73",
    "a76b9185b334",
    "aa1b92d0d07d",
    "b1970225392d",
    "bac6be6f2b4f",
    "be3163f7c49d",
    "bed6bc0b197a",
    "c112305b07d3",
    "ca79fd834ba0",
    "cab8b6a0ac92",
    "d69e10434a04",
    "da5c9f4cce1c",
    "e05bb1967eff",
    "f4a7c9e21b08",
    "fbc16e410bc6",
    "fc5c993a4b4a",
)
depends_on = None

# table -> (uuid id column, has created_at)
_TABLES = {
    "workflows": ("workflow_id", True),
    "products": ("product_id", True),
    "product_blocks": ("product_block_id", True),
    "resource_types": ("resource_type_id", False),
    "fixed_inputs": ("fixed_input_id", True),
}


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        # In "public" where there is one (on every usual search path), so every schema of the database finds it.
        public = connection.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")).scalar()
        op.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"' + (" SCHEMA public" if public else ""))
    for table, (id_column, has_created_at) in _TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(id_column, existing_type=sa.Uuid(), server_default=new_uuid())
            if has_created_at:
                batch.alter_column("created_at", existing_nullable=False, server_default=sa.func.current_timestamp())
            if table == "workflows":
                batch.alter_column("is_task", existing_type=sa.Boolean(), server_default=sa.false())
                batch.alter_column("description", existing_type=sa.Text(), server_default="")


def downgrade() -> None:
    for table, (id_column, has_created_at) in _TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.alter_column(id_column, existing_type=sa.Uuid(), server_default=None)
            if has_created_at:
                batch.alter_column("created_at", existing_nullable=False, server_default=None)
            if table == "workflows":
                batch.alter_column("is_task", existing_type=sa.Boolean(), server_default=None)
                batch.alter_column("description", existing_type=sa.Text(), server_default=None)
