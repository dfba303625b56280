"""Out-of-sync subscriptions newest first, off an index, on SQLite: orchestrator-ui's start page asks for them.

Its card lists the active and provisioning subscriptions that are not in sync (``insync:false``),
newest first. Usually there are none, or a few, and finding that read every subscription along the
list's order (50 ms at 100,000 on SQLite, once its planner had statistics). ``insync, start_date
DESC, subscription_id`` reads them, and any ``insync`` filter, in the list's order; SQLite writes
it only when ``insync`` changes, when a process locks or releases the subscription.

Not on PostgreSQL: there an indexed ``insync`` would make the lock's update (``insync`` and
``version``) one that is not HOT, adding an entry to every index of the table, the trigram ones
too, twice a process; its planner reads the card off the status index in 15 ms at 100,000.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

NAME = "ix_subscriptions_insync_newest_first"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(NAME, "subscriptions", ["insync", sa.text("start_date DESC"), "subscription_id"])


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {NAME}")
