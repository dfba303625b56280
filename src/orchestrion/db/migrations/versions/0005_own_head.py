"""Keep orchestrion's branch head apart from the revision applications' migrations depend on.

Alembic records in its version table only the heads that are no one's ancestor, and a revision's
``depends_on`` makes the revision it names an ancestor. Were that revision orchestrion's head, the
first application migration would replace orchestrion's row in the version table, and orchestrion
could no longer tell how far its own schema is. This revision changes nothing; it only comes after
the anchors of 0004, so orchestrion's head keeps a row of its own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
