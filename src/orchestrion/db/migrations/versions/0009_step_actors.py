"""Who did it, per step: each history row's actor and action, and who asked for a queued abort.

``process_steps.action`` says what caused the run that wrote the row (``start``, ``resume``,
``retry``, ``callback``, ``abort``, ``takeover``, ``automatic retry``); its ``created_by`` names
who did (a user, ``callback``, ``scheduler``, ``SYSTEM``). ``processes.run_by``/``run_action`` keep
the same for the run in progress, so a worker that claims the process later (another thread, a
Celery worker) writes them on its rows; ``processes.abort_requested_by`` is who asked for an abort
the running worker carries out at its next step boundary. Rows written before this revision have
no action; their ``created_by`` stays the process's creator.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_steps") as batch:
        batch.add_column(sa.Column("action", sa.String(32), nullable=True))
    with op.batch_alter_table("processes") as batch:
        batch.add_column(sa.Column("run_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("run_action", sa.String(32), nullable=True))
        batch.add_column(sa.Column("abort_requested_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processes") as batch:
        batch.drop_column("abort_requested_by")
        batch.drop_column("run_action")
        batch.drop_column("run_by")
    with op.batch_alter_table("process_steps") as batch:
        batch.drop_column("action")
