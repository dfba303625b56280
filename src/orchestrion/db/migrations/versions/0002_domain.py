"""The product catalogue and subscriptions: products, blocks, resource types, instances and values.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from orchestrion.db.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _fk(column: str, target: str, ondelete: str | None = None) -> sa.Column:
    return sa.Column(column, sa.Uuid(), sa.ForeignKey(target, ondelete=ondelete), nullable=False)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("product_id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("product_type", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(50), nullable=False),
        sa.Column("status", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("end_date", UtcDateTime()),
    )
    op.create_table(
        "fixed_inputs",
        sa.Column("fixed_input_id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        _fk("product_id", "products.product_id", "CASCADE"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("product_id", "name", name="uq_fixed_inputs_product_name"),
    )
    op.create_table(
        "product_blocks",
        sa.Column("product_block_id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(50)),
        sa.Column("status", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("end_date", UtcDateTime()),
    )
    op.create_table(
        "resource_types",
        sa.Column("resource_type_id", sa.Uuid(), primary_key=True),
        sa.Column("resource_type", sa.String(510), nullable=False, unique=True),
        sa.Column("description", sa.Text()),
    )
    op.create_table(
        "product_product_blocks",
        _fk("product_id", "products.product_id", "CASCADE"),
        _fk("product_block_id", "product_blocks.product_block_id", "CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "product_block_id"),
    )
    op.create_index("ix_product_product_blocks_product_block_id", "product_product_blocks", ["product_block_id"])
    op.create_table(
        "product_block_resource_types",
        _fk("product_block_id", "product_blocks.product_block_id", "CASCADE"),
        _fk("resource_type_id", "resource_types.resource_type_id", "CASCADE"),
        sa.PrimaryKeyConstraint("product_block_id", "resource_type_id"),
    )
    op.create_index(
        "ix_product_block_resource_types_resource_type_id", "product_block_resource_types", ["resource_type_id"]
    )
    op.create_table(
        "product_block_relations",
        _fk("in_use_by_id", "product_blocks.product_block_id", "CASCADE"),
        _fk("depends_on_id", "product_blocks.product_block_id", "CASCADE"),
        sa.Column("min", sa.Integer()),
        sa.Column("max", sa.Integer()),
        sa.PrimaryKeyConstraint("in_use_by_id", "depends_on_id"),
    )
    op.create_index("ix_product_block_relations_depends_on_id", "product_block_relations", ["depends_on_id"])
    op.create_table(
        "products_workflows",
        _fk("product_id", "products.product_id", "CASCADE"),
        _fk("workflow_id", "workflows.workflow_id", "CASCADE"),
        sa.PrimaryKeyConstraint("product_id", "workflow_id"),
    )
    op.create_index("ix_products_workflows_workflow_id", "products_workflows", ["workflow_id"])
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.Uuid(), primary_key=True),
        sa.Column("customer_id", sa.String(255), nullable=False, index=True),
        sa.Column("product_id", sa.Uuid(), sa.ForeignKey("products.product_id"), nullable=False, index=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(255), nullable=False, index=True),
        sa.Column("insync", sa.Boolean(), nullable=False),
        sa.Column("start_date", UtcDateTime()),
        sa.Column("end_date", UtcDateTime()),
        sa.Column("note", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "subscription_instances",
        sa.Column("subscription_instance_id", sa.Uuid(), primary_key=True),
        _fk("subscription_id", "subscriptions.subscription_id", "CASCADE"),
        _fk("product_block_id", "product_blocks.product_block_id"),
        sa.Column("label", sa.String(255)),
        sa.Column("domain_model_attr", sa.String(255)),
        sa.Column("order_id", sa.Integer()),
    )
    op.create_index("ix_subscription_instances_subscription_id", "subscription_instances", ["subscription_id"])
    op.create_index("ix_subscription_instances_product_block_id", "subscription_instances", ["product_block_id"])
    op.create_table(
        "subscription_instance_values",
        sa.Column("subscription_instance_value_id", sa.Uuid(), primary_key=True),
        _fk("subscription_instance_id", "subscription_instances.subscription_instance_id", "CASCADE"),
        _fk("resource_type_id", "resource_types.resource_type_id"),
        sa.Column("value", sa.Text()),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "subscription_instance_id", "resource_type_id", "order_id", name="uq_subscription_instance_values_slot"
        ),
    )
    op.create_index(
        "ix_subscription_instance_values_resource_type_id", "subscription_instance_values", ["resource_type_id"]
    )
    op.create_table(
        "subscription_instance_relations",
        _fk("in_use_by_id", "subscription_instances.subscription_instance_id", "CASCADE"),
        sa.Column("domain_model_attr", sa.String(255), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        _fk("depends_on_id", "subscription_instances.subscription_instance_id"),
        sa.PrimaryKeyConstraint("in_use_by_id", "domain_model_attr", "order_id"),
    )
    op.create_index(
        "ix_subscription_instance_relations_depends_on_id", "subscription_instance_relations", ["depends_on_id"]
    )
    op.create_table(
        "processes_subscriptions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _fk("process_id", "processes.process_id", "CASCADE"),
        _fk("subscription_id", "subscriptions.subscription_id"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_processes_subscriptions_process_id", "processes_subscriptions", ["process_id"])
    op.create_index("ix_processes_subscriptions_subscription_id", "processes_subscriptions", ["subscription_id"])


def downgrade() -> None:
    for table in (
        "processes_subscriptions",
        "subscription_instance_relations",
        "subscription_instance_values",
        "subscription_instances",
        "subscriptions",
        "products_workflows",
        "product_block_relations",
        "product_block_resource_types",
        "product_product_blocks",
        "resource_types",
        "product_blocks",
        "fixed_inputs",
        "products",
    ):
        op.drop_table(table)
