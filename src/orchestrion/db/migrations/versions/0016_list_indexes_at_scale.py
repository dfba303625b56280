"""Indexes for lists at a million processes: by workflow, by customer, and free text on PostgreSQL.

A process list sorted by workflow name (or filtered on the workflow) is read one workflow at a time,
each in the list's order (``orchestrion.storage.process_queries``): ``(workflow_id, started_at DESC,
process_id)`` is that order within a workflow, ``(workflow_id, last_status, started_at DESC,
process_id)`` the order by status within one; both are read without touching the table, and the
first makes ``ix_processes_workflow_id`` (its leading column) one more index for every checkpoint
to write: it is dropped.

``processes_subscriptions (subscription_id, process_id)`` gives a customer's processes off the index
alone (the filter and above all its count). ``ix_processes_children``, partial, holds only the
processes that have a parent: SQLite's statistics find ``parent_process_id`` NULL nearly everywhere
and so disregard ``ix_processes_parent_group``, scanning every process for a detail's children.

On PostgreSQL, where the ``pg_trgm`` extension exists or may be created, trigram indexes serve the
``LIKE '%...%'`` of the subscription list's text filters and free text (description, customer,
resource values); without it (no right to create it) those still work, by scanning.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = {  # name -> (table, column), indexed as lower(column) as the filters compare
    "ix_subscriptions_description_trgm": ("subscriptions", "description"),
    "ix_subscriptions_customer_id_trgm": ("subscriptions", "customer_id"),
    "ix_subscription_instance_values_value_trgm": ("subscription_instance_values", "value"),
}


def _trigram_schema(connection: sa.Connection) -> str | None:
    """The schema of ``pg_trgm``, created (in ``public`` where there is one, like ``uuid-ossp`` in 0004)
    when it is available and allowed; None without it."""
    find = sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    available = sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    if connection.execute(find).scalar() is None and connection.execute(available).scalar():
        public = connection.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")).scalar()
        try:
            with connection.begin_nested():
                connection.execute(
                    sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if public else ""))
                )
        except sa.exc.DBAPIError:  # not allowed, or another connection created it at the same moment
            pass
    return connection.execute(find).scalar()


def upgrade() -> None:
    op.create_index(
        "ix_processes_workflow_newest_first", "processes", ["workflow_id", sa.text("started_at DESC"), "process_id"]
    )
    op.drop_index("ix_processes_workflow_id", table_name="processes")
    op.create_index(
        "ix_processes_workflow_status",
        "processes",
        ["workflow_id", "last_status", sa.text("started_at DESC"), "process_id"],
    )
    op.create_index(
        "ix_processes_subscriptions_subscription_process", "processes_subscriptions", ["subscription_id", "process_id"]
    )
    has_parent = sa.text("parent_process_id IS NOT NULL")
    op.create_index(
        "ix_processes_children",
        "processes",
        ["parent_process_id"],
        sqlite_where=has_parent,
        postgresql_where=has_parent,
    )
    connection = op.get_bind()
    if connection.dialect.name != "postgresql" or (schema := _trigram_schema(connection)) is None:
        return
    for name, (table, column) in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (lower({column}) {schema}.gin_trgm_ops)")


def downgrade() -> None:
    for name in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_processes_children", table_name="processes")
    op.drop_index("ix_processes_subscriptions_subscription_process", table_name="processes_subscriptions")
    op.drop_index("ix_processes_workflow_status", table_name="processes")
    op.create_index("ix_processes_workflow_id", "processes", ["workflow_id"])
    op.drop_index("ix_processes_workflow_newest_first", table_name="processes")
