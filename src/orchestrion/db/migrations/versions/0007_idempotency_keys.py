"""Idempotency keys of process starts: a client that retries a start gets the process it created.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "process_idempotency_keys"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("process_id", sa.Uuid(), sa.ForeignKey("processes.process_id", ondelete="CASCADE"), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index(f"ix_{TABLE}_created_at", TABLE, ["created_at"])


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_created_at", TABLE)
    op.drop_table(TABLE)
