"""The product catalogue and the subscriptions built from it (SQLAlchemy 2 typed ORM).

Subscriptions are stored as instances of product blocks with one row per resource value (EAV).
Unlike the reference schema, a value row carries ``order_id`` so lists keep their order, and a
NULL ``value`` stores ``None``. Instance relations may cross subscriptions: a block may use a
block owned by another subscription, which is why ``depends_on_id`` refuses (rather than
cascades) the deletion of a block still in use. The subscription's own top-level blocks carry the
field they sit in (``domain_model_attr``) and their position (``order_id``) on the instance row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrion.db.models import Base, WorkflowTable
from orchestrion.db.types import JsonColumn, UtcDateTime, new_uuid, utcnow


def _created_at() -> Mapped[datetime]:
    """A creation time that plain SQL inserts (applications' migrations) get from the database."""
    return mapped_column(UtcDateTime, default=utcnow, server_default=func.current_timestamp())


product_product_blocks = Table(
    "product_product_blocks",
    Base.metadata,
    Column("product_id", ForeignKey("products.product_id", ondelete="CASCADE"), primary_key=True),
    Column("product_block_id", ForeignKey("product_blocks.product_block_id", ondelete="CASCADE"), primary_key=True),
    Index("ix_product_product_blocks_product_block_id", "product_block_id"),
)

product_block_resource_types = Table(
    "product_block_resource_types",
    Base.metadata,
    Column("product_block_id", ForeignKey("product_blocks.product_block_id", ondelete="CASCADE"), primary_key=True),
    Column("resource_type_id", ForeignKey("resource_types.resource_type_id", ondelete="CASCADE"), primary_key=True),
    Index("ix_product_block_resource_types_resource_type_id", "resource_type_id"),
)

products_workflows = Table(
    "products_workflows",
    Base.metadata,
    Column("product_id", ForeignKey("products.product_id", ondelete="CASCADE"), primary_key=True),
    Column("workflow_id", ForeignKey("workflows.workflow_id", ondelete="CASCADE"), primary_key=True),
    Index("ix_products_workflows_workflow_id", "workflow_id"),
)


class ProductBlockRelationTable(Base):
    """Which block types a block type may contain, with the allowed count (None: unbounded)."""

    __tablename__ = "product_block_relations"
    __table_args__ = (Index("ix_product_block_relations_depends_on_id", "depends_on_id"),)

    in_use_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_blocks.product_block_id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_blocks.product_block_id", ondelete="CASCADE"), primary_key=True
    )
    min: Mapped[int | None] = mapped_column(Integer)
    max: Mapped[int | None] = mapped_column(Integer)


class ResourceTypeTable(Base):
    __tablename__ = "resource_types"

    resource_type_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    resource_type: Mapped[str] = mapped_column(String(510), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class ProductBlockTable(Base):
    __tablename__ = "product_blocks"

    product_block_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tag: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(255), default="active")
    created_at: Mapped[datetime] = _created_at()
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)

    resource_types: Mapped[list[ResourceTypeTable]] = relationship(secondary=product_block_resource_types)
    depends_on: Mapped[list[ProductBlockTable]] = relationship(
        secondary="product_block_relations",
        primaryjoin="ProductBlockTable.product_block_id == ProductBlockRelationTable.in_use_by_id",
        secondaryjoin="ProductBlockTable.product_block_id == ProductBlockRelationTable.depends_on_id",
        viewonly=True,
    )


class FixedInputTable(Base):
    __tablename__ = "fixed_inputs"
    __table_args__ = (UniqueConstraint("product_id", "name", name="uq_fixed_inputs_product_name"),)

    fixed_input_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(255))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.product_id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = _created_at()


class ProductTable(Base):
    __tablename__ = "products"

    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    product_type: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(255), default="active")
    created_at: Mapped[datetime] = _created_at()
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)

    fixed_inputs: Mapped[list[FixedInputTable]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    product_blocks: Mapped[list[ProductBlockTable]] = relationship(secondary=product_product_blocks)
    workflows: Mapped[list[WorkflowTable]] = relationship(secondary=products_workflows)

    def fixed_input_value(self, name: str) -> str:
        """The value of fixed input ``name``; ``LookupError`` when the product has none of that name."""
        for fixed_input in self.fixed_inputs:
            if fixed_input.name == name:
                return fixed_input.value
        raise LookupError(f"product {self.name!r} has no fixed input {name!r}")

    def find_block_by_name(self, name: str) -> ProductBlockTable:
        for block in self.product_blocks:
            if block.name == name:
                return block
        raise LookupError(f"product {self.name!r} has no product block {name!r}")

    def workflow_by_key(self, name: str) -> WorkflowTable | None:
        return next((wf for wf in self.workflows if wf.name == name), None)

    def _workflow_key(self, target: str) -> str | None:
        return next((wf.name for wf in self.workflows if wf.target == target and wf.deleted_at is None), None)

    def create_subscription_workflow_key(self) -> str | None:
        return self._workflow_key("CREATE")

    def terminate_subscription_workflow_key(self) -> str | None:
        return self._workflow_key("TERMINATE")


class SubscriptionTable(Base):
    """A customer's subscription on a product; ``version`` is raised by every save that changes it.

    On PostgreSQL with ``pg_trgm``, migrations 0016 and 0018 add trigram indexes on ``lower(description)``,
    ``lower(customer_id)`` and ``lower(note)`` (and on resource values) for the text filters and free
    text; they are not declared here, as they exist only where the extension could be created.
    """

    __tablename__ = "subscriptions"
    # (0017) the list's default order in orchestrator-ui, newest first: a page reads only its rows;
    # (0020, SQLite only, so not here) ix_subscriptions_insync_newest_first: the out-of-sync ones in that order
    __table_args__ = (Index("ix_subscriptions_newest_first", text("start_date DESC"), "subscription_id"),)

    subscription_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[str] = mapped_column(String(255), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.product_id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(255), index=True)
    insync: Mapped[bool] = mapped_column(Boolean, default=False)
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    product: Mapped[ProductTable] = relationship()
    instances: Mapped[list[SubscriptionInstanceTable]] = relationship(viewonly=True)
    customer_descriptions: Mapped[list[SubscriptionCustomerDescriptionTable]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, back_populates="subscription"
    )


class SubscriptionVersionTable(Base):
    """One version of a subscription: what it was after one transaction that changed it (``docs/history.md``).

    Numbered 1..n per subscription; ``process_id`` and ``step_name`` say which step produced it
    (NULL outside a step). No foreign key to the process: a deleted process leaves the history as it
    was. The versions go with their subscription.
    """

    __tablename__ = "subscription_versions"
    __table_args__ = (UniqueConstraint("subscription_id", "version", name="uq_subscription_versions_version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    process_id: Mapped[uuid.UUID | None] = mapped_column()
    step_name: Mapped[str | None] = mapped_column(String(255))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JsonColumn)


class SubscriptionCustomerDescriptionTable(Base):
    """What one customer calls a subscription (its own description of it); at most one per customer.

    ``version`` goes up with every change, so an edit made on a stale copy can be refused.
    """

    __tablename__ = "subscription_customer_descriptions"
    __table_args__ = (
        UniqueConstraint("customer_id", "subscription_id", name="uq_subscription_customer_descriptions_customer"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, server_default=new_uuid())
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    subscription: Mapped[SubscriptionTable] = relationship(back_populates="customer_descriptions")


class SubscriptionInstanceTable(Base):
    """One product-block instance, owned by one subscription.

    ``domain_model_attr`` and ``order_id`` are set on the owner's top-level blocks only: the
    subscription field the block sits in and its position in that field.
    """

    __tablename__ = "subscription_instances"

    subscription_instance_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"), index=True
    )
    product_block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product_blocks.product_block_id"), index=True)
    label: Mapped[str | None] = mapped_column(String(255))
    domain_model_attr: Mapped[str | None] = mapped_column(String(255))
    order_id: Mapped[int | None] = mapped_column(Integer)

    product_block: Mapped[ProductBlockTable] = relationship()
    # Read-only views for application code (domain models write these rows, never the ORM):
    subscription: Mapped[SubscriptionTable] = relationship(viewonly=True)
    values: Mapped[list[SubscriptionInstanceValueTable]] = relationship(
        viewonly=True, order_by="SubscriptionInstanceValueTable.order_id"
    )
    in_use_by: Mapped[list[SubscriptionInstanceTable]] = relationship(
        secondary="subscription_instance_relations",
        primaryjoin=(
            "SubscriptionInstanceTable.subscription_instance_id == SubscriptionInstanceRelationTable.depends_on_id"
        ),
        secondaryjoin=(
            "SubscriptionInstanceTable.subscription_instance_id == SubscriptionInstanceRelationTable.in_use_by_id"
        ),
        viewonly=True,
    )
    depends_on: Mapped[list[SubscriptionInstanceTable]] = relationship(
        secondary="subscription_instance_relations",
        primaryjoin=(
            "SubscriptionInstanceTable.subscription_instance_id == SubscriptionInstanceRelationTable.in_use_by_id"
        ),
        secondaryjoin=(
            "SubscriptionInstanceTable.subscription_instance_id == SubscriptionInstanceRelationTable.depends_on_id"
        ),
        viewonly=True,
    )

    def value_for_resource_type(self, name: str | None) -> SubscriptionInstanceValueTable | None:
        return next((v for v in self.values if v.resource_type.resource_type == name), None)


class SubscriptionInstanceValueTable(Base):
    """One resource value; a list is several rows ordered by ``order_id``, ``value`` NULL is None."""

    __tablename__ = "subscription_instance_values"
    __table_args__ = (
        UniqueConstraint(
            "subscription_instance_id", "resource_type_id", "order_id", name="uq_subscription_instance_values_slot"
        ),
        Index("ix_subscription_instance_values_resource_type_id", "resource_type_id"),
    )

    subscription_instance_value_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_instance_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscription_instances.subscription_instance_id", ondelete="CASCADE")
    )
    resource_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resource_types.resource_type_id"))
    value: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int] = mapped_column(Integer, default=0)

    resource_type: Mapped[ResourceTypeTable] = relationship(viewonly=True)
    subscription_instance: Mapped[SubscriptionInstanceTable] = relationship(viewonly=True)


class SubscriptionInstanceRelationTable(Base):
    """Block ``in_use_by_id`` holds block ``depends_on_id`` in field ``domain_model_attr`` at ``order_id``.

    The two instances may belong to different subscriptions. Deleting a block that another one
    still uses is refused by the foreign key.
    """

    __tablename__ = "subscription_instance_relations"
    __table_args__ = (Index("ix_subscription_instance_relations_depends_on_id", "depends_on_id"),)

    in_use_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscription_instances.subscription_instance_id", ondelete="CASCADE"), primary_key=True
    )
    domain_model_attr: Mapped[str] = mapped_column(String(255), primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    depends_on_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subscription_instances.subscription_instance_id"))


class ProcessSubscriptionTable(Base):
    """Which processes worked on which subscriptions (the subscription's audit trail)."""

    __tablename__ = "processes_subscriptions"
    # (0016) a subscription's processes off the index alone: a customer filter on the process list and its count
    __table_args__ = (Index("ix_processes_subscriptions_subscription_process", "subscription_id", "process_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    process_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("processes.process_id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subscriptions.subscription_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    subscription: Mapped[SubscriptionTable] = relationship(viewonly=True)
