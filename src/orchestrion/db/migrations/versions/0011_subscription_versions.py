"""Every subscription's history: ``subscription_versions`` keeps what each change left behind.

One row per transaction that changed a subscription (a domain model save, a lock, an unlock, a
lifecycle move, ``set_in_sync``), numbered 1..n per subscription, with the process and step that
produced it and a compact snapshot of the whole subscription. Subscriptions that exist before this
revision get their first version from the backfill (``domain/history_backfill.py``) when orchestrion next
opens the database.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import JsonColumn, UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "subscription_versions"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Uuid(),
            sa.ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("process_id", sa.Uuid(), nullable=True),
        sa.Column("step_name", sa.String(255), nullable=True),
        sa.Column("snapshot", JsonColumn, nullable=False),
        sa.UniqueConstraint("subscription_id", "version", name="uq_subscription_versions_version"),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
