"""Indexes for lists at a million processes: the default order, and the dashboard's counts.

The process list's default order is ``started_at DESC, process_id``: with an index in exactly that
order a page, however deep, is read off the index instead of sorting the ties of every row before
it. ``(is_task, last_status)`` covers the dashboard's counts per status, so they are read from the
index alone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_processes_newest_first", "processes", [sa.text("started_at DESC"), "process_id"])
    op.create_index("ix_processes_task_status", "processes", ["is_task", "last_status"])


def downgrade() -> None:
    op.drop_index("ix_processes_task_status", table_name="processes")
    op.drop_index("ix_processes_newest_first", table_name="processes")
