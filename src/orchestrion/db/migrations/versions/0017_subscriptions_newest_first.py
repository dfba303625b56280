"""The subscription list's newest first, off an index: orchestrator-ui's default order (``startDate`` descending).

Sorted by start date, a page of subscriptions sorted all of them first (30 ms at 100,000, growing
with the table); ``start_date DESC, subscription_id`` is that order itself, tie-breaker included,
so a page, and any offset, reads only its rows. Ascending reads it backwards.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_subscriptions_newest_first", "subscriptions", [sa.text("start_date DESC"), "subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_newest_first", table_name="subscriptions")
