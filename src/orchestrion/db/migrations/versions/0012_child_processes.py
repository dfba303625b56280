"""Child processes and parallel branches: who started a process, in which group, and what its parent waits for.

``processes.parent_process_id`` is the process whose step created this one, in that step's
transaction; ``child_group`` names the group the parent awaits it in (a parallel step's name, or
the group given to ``start_child``), and ``branch`` is the path of a parallel branch (``None`` for a
child of another workflow). ``awaiting_children`` holds what a parent waits for (the group and how
many of its children must end), so that the transaction in which a child ends can tell whether the
parent may go on. Deleting a parent deletes its children (``steering.delete_process``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import JsonColumn

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processes") as batch:
        batch.add_column(sa.Column("parent_process_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("child_group", sa.String(255), nullable=True))
        batch.add_column(sa.Column("branch", sa.Text(), nullable=True))
        batch.add_column(sa.Column("awaiting_children", JsonColumn, nullable=True))
        batch.create_index("ix_processes_parent_group", ["parent_process_id", "child_group"])


def downgrade() -> None:
    with op.batch_alter_table("processes") as batch:
        batch.drop_index("ix_processes_parent_group")
        batch.drop_column("awaiting_children")
        batch.drop_column("branch")
        batch.drop_column("child_group")
        batch.drop_column("parent_process_id")
