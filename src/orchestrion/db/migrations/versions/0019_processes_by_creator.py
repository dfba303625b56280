"""A creator's processes newest first, off an index: orchestrator-ui's "my workflows" (``createdBy``).

Filtered on who started them, a page of processes read the list's order until it had its rows and
its total was counted row by row: at a million processes, 20,000 of one user's read 300,000 rows
(66 ms), and a user with few processes would have had a page read them all. The index holds the
creator as the filters compare it, ignoring case (``lower(created_by)`` on PostgreSQL, whose
``LIKE`` without a wildcard becomes ``=`` on it; ``created_by COLLATE NOCASE`` on SQLite, whose
``LIKE`` ignores case), orchestrator-ui's ``isTask`` beside it, then the list's order. A process's
creator, kind and start never change, so on SQLite no checkpoint writes it; on PostgreSQL every
checkpoint does, as it writes all of the table's indexes (its update changes the indexed
``last_modified_at``, so it is never HOT): about 160 bytes of WAL by 0015's measure of two indexes,
and the engine benchmark's 12-step workflow at 41-42% of the limit against 44-46% before, within
that benchmark's noise.

SQLAlchemy's reflection of SQLite indexes drops ``COLLATE NOCASE`` (and ``DESC``): a later batch
operation on ``processes`` (SQLite's table rebuild) must create this index again as ``upgrade``
does, or SQLite's ``LIKE`` can no longer use it. Like the trigram indexes (0016, 0018) it is not in
the models' metadata, being different on each database.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

NAME = "ix_processes_creator_newest_first"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    creator = sa.text("lower(created_by)" if postgres else "created_by COLLATE NOCASE")
    op.create_index(NAME, "processes", [creator, "is_task", sa.text("started_at DESC"), "process_id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="processes")
