"""The application's own table, whose ids the database makes, with its first rows.

Copied into the application's versions by the test of application tables.

Revision ID: f2c6a9e0b844
Revises: e58b1d7f4a33
Create Date: 2025-03-05
"""

import sqlalchemy as sa
from alembic import op

revision = "f2c6a9e0b844"
down_revision = "e58b1d7f4a33"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("site_id", sa.Uuid(), primary_key=True, server_default=sa.text("uuid_generate_v4()")),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("city", sa.String(255), nullable=False),
    )
    op.execute("INSERT INTO sites (name, city) VALUES ('AMS-1', 'Amsterdam'), ('UTR-2', 'Utrecht')")


def downgrade() -> None:
    op.drop_table("sites")
