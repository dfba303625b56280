"""Customers' own descriptions of subscriptions, and the built-in ``modify_note`` workflow's row.

``subscription_customer_descriptions`` holds at most one description per customer and
subscription; it goes with its subscription. The ``modify_note`` row is what orchestrator-core's
schema migrations create too: orchestrator-ui edits a subscription's note by starting it, so every
product gets it (existing products here; later ones from each catalogue load).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import UtcDateTime, new_uuid

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "subscription_customer_descriptions"
_workflows = sa.table(
    "workflows",
    sa.column("workflow_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("target", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("is_task", sa.Boolean()),
    sa.column("created_at", UtcDateTime()),
)
_products = sa.table("products", sa.column("product_id", sa.Uuid()))
_links = sa.table("products_workflows", sa.column("product_id", sa.Uuid()), sa.column("workflow_id", sa.Uuid()))


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Uuid(), primary_key=True, server_default=new_uuid()),
        sa.Column(
            "subscription_id",
            sa.Uuid(),
            sa.ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("customer_id", "subscription_id", name="uq_subscription_customer_descriptions_customer"),
    )
    op.create_index(f"ix_{TABLE}_subscription_id", TABLE, ["subscription_id"])
    op.create_index(f"ix_{TABLE}_customer_id", TABLE, ["customer_id"])

    connection = op.get_bind()
    found = connection.execute(sa.select(_workflows.c.workflow_id).where(_workflows.c.name == "modify_note")).scalar()
    if found is None:
        found = uuid.uuid4()
        connection.execute(
            _workflows.insert().values(
                workflow_id=found,
                name="modify_note",
                target="MODIFY",
                description="Modify note",
                is_task=False,
                created_at=datetime.now(UTC),
            )
        )
    linked = sa.select(_links.c.product_id).where(_links.c.workflow_id == found)
    unlinked = sa.select(_products.c.product_id, sa.literal(found, sa.Uuid())).where(
        _products.c.product_id.not_in(linked)
    )
    connection.execute(_links.insert().from_select(["product_id", "workflow_id"], unlinked))


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_customer_id", TABLE)
    op.drop_index(f"ix_{TABLE}_subscription_id", TABLE)
    op.drop_table(TABLE)
    # The modify_note row stays: processes may refer to it, and orchestrator-core keeps it too.
