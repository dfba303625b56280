"""The operator audit log, and the hash chains that make edited or deleted history rows detectable.

``audit_log`` keeps who did what outside processes (``set_in_sync``, deletions, schedules, the
engine switch, catalogue loads), from which address, and whether it was done or refused. Each of
its entries and each ``process_steps`` row carries ``row_hash`` (and ``prev_hash``, the hash of the
row before it): one chain for the audit log, one per process for the history (see
``orchestrion.db.chain``). History rows written before this revision are chained here, so
``orchestrion audit verify`` covers them from now on (an edit made before it cannot be told).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from orchestrion.db.chain import step_row_hash
from orchestrion.db.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "audit_log"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_steps = sa.table(
    "process_steps",
    sa.column("step_id", sa.Uuid()),
    sa.column("process_id", sa.Uuid()),
    *(sa.column(name) for name in ("seq", "name", "step_key", "status", "created_by", "action")),
    sa.column("prev_hash"),
    sa.column("row_hash"),
    sa.column("state", JSON),
    sa.column("started_at", UtcDateTime()),
    sa.column("completed_at", UtcDateTime()),
)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("user", sa.String(255)),
        sa.Column("client", sa.String(255)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(255)),
        sa.Column("details", JSON),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("row_hash", sa.String(64), nullable=False),
    )
    for column in ("at", "user", "action"):
        op.create_index(f"ix_{TABLE}_{column}", TABLE, [column])
    with op.batch_alter_table("process_steps") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    _chain_existing_rows()


def _chain_existing_rows() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_steps).order_by(_steps.c.process_id, _steps.c.seq)).all()
    process_id, prev = None, None
    for row in rows:
        if row.process_id != process_id:
            process_id, prev = row.process_id, None
        row_hash = step_row_hash(row, prev)
        connection.execute(
            sa.update(_steps).where(_steps.c.step_id == row.step_id).values(prev_hash=prev, row_hash=row_hash)
        )
        prev = row_hash


def downgrade() -> None:
    with op.batch_alter_table("process_steps") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
    for column in ("at", "user", "action"):
        op.drop_index(f"ix_{TABLE}_{column}", TABLE)
    op.drop_table(TABLE)
