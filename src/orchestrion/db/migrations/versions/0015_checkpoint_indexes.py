"""Two fewer indexes on processes, written by every checkpoint: each duplicates a composite one.

``ix_processes_started_at`` is the leading column of ``ix_processes_newest_first`` (``started_at
DESC, process_id``, which serves either direction), ``ix_processes_is_task`` that of
``ix_processes_task_status`` (``is_task, last_status``). A checkpoint's update of the process row
changes ``last_modified_at``, which is indexed, so it is not a HOT update and writes an entry into
every index of the table: 7 instead of 9 now. Lists and counts use the composite indexes already.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_processes_started_at", table_name="processes")
    op.drop_index("ix_processes_is_task", table_name="processes")


def downgrade() -> None:
    op.create_index("ix_processes_is_task", "processes", ["is_task"])
    op.create_index("ix_processes_started_at", "processes", ["started_at"])
