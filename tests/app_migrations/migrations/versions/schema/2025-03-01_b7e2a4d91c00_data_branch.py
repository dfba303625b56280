"""The application's data branch: it starts after orchestrator-core's schema revision da5c9f4cce1c.

Revision ID: b7e2a4d91c00
Revises:
Create Date: 2025-03-01
"""

revision = "b7e2a4d91c00"
down_revision = None
branch_labels = ("data",)
depends_on = "da5c9f4cce1c"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
