"""A product whose blocks are given under a misspelt key (``product_block``): the upgrade must fail.

Copied into the application's versions by the test that shows it. Before the bad ``create`` it
writes a workflow row itself, which must not survive the failed revision either.

Revision ID: 0a7d3e5c9b55
Revises: e58b1d7f4a33
Create Date: 2025-03-06
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.migrations.helpers import create

revision = "0a7d3e5c9b55"
down_revision = "e58b1d7f4a33"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(
        sa.text("INSERT INTO workflows (name, target, description) VALUES ('splice_fibre', 'CREATE', 'Splice a fibre')")
    )
    create(
        conn,
        {
            "product_blocks": {"SplicerBlock": {"description": "A fibre splice", "tag": "SPLICE"}},
            "products": {"Splice": {"product_type": "Splice", "tag": "SPLICE", "product_block": "SplicerBlock"}},
        },
    )


def downgrade() -> None:
    pass
