"""Loading a subscription in a constant number of queries, however many blocks it has.

Three queries: the subscription with its product and the product's fixed inputs, then every
instance reachable from the subscription's own instances (a recursive CTE that follows relations
into other subscriptions) with its values, and their relations. The block tree is then built in memory, each
block validated by the class its parent's field asks for, and the rows that were read are kept
as the model's snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from sqlalchemy import CTE, ColumnElement, Connection, bindparam, select

from orchestrion.db import get_database
from orchestrion.db.domain_models import (
    FixedInputTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    SubscriptionInstanceRelationTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.db.filters import QueryType
from orchestrion.db.sessions import connection_of, reading
from orchestrion.db.types import as_uuid
from orchestrion.domain.fields import BlockField
from orchestrion.domain.snapshot import SUBSCRIPTION_COLUMNS, InstanceState, Snapshot
from orchestrion.errors import BlockNotFoundError, ProductNotFoundError, SubscriptionNotFoundError
from orchestrion.types import SubscriptionLifecycle

if TYPE_CHECKING:
    from orchestrion.domain.base import ProductBlockModel, ProductModel, SubscriptionModel

M = TypeVar("M", bound="SubscriptionModel")
B = TypeVar("B", bound="ProductBlockModel")

_I = SubscriptionInstanceTable
_V = SubscriptionInstanceValueTable
_R = SubscriptionInstanceRelationTable
_PRODUCT_COLUMNS = ("product_id", "name", "description", "product_type", "tag", "status", "created_at", "end_date")


def _product_model(row: Any, prefix: str = "") -> ProductModel:
    from orchestrion.domain.base import ProductModel

    return ProductModel.model_validate({name: getattr(row, prefix + name) for name in _PRODUCT_COLUMNS})


def load_product(product_id: UUID | str) -> tuple[ProductModel, dict[str, str]]:
    """The product and its fixed inputs (name -> stored text)."""
    pid = as_uuid(product_id)
    with reading(get_database()) as session:
        row = session.execute(
            select(*(getattr(ProductTable, name) for name in _PRODUCT_COLUMNS)).where(ProductTable.product_id == pid)
        ).one_or_none()
        if row is None:
            raise ProductNotFoundError(pid)
        fixed_inputs = session.execute(
            select(FixedInputTable.name, FixedInputTable.value).where(FixedInputTable.product_id == pid)
        ).all()
    return _product_model(row), {name: value for name, value in fixed_inputs}


def reachable(start: ColumnElement[bool]) -> CTE:
    """Ids of the instances matching ``start`` and of every instance they use, directly or not."""
    reach = select(_I.subscription_instance_id.label("id")).where(start)
    cte = reach.cte("reach", recursive=True)
    return cte.union(select(_R.depends_on_id).join(cte, _R.in_use_by_id == cte.c.id))


_SID = bindparam("sid", type_=SubscriptionTable.subscription_id.type)
# built once: building a select and its cache key cost more than running it (a load is run thrice a modify)
_SUBSCRIPTION = (
    select(
        *(getattr(SubscriptionTable, name) for name in (*SUBSCRIPTION_COLUMNS, "version")),
        # labelled: products and subscriptions share column names (status, description, end_date)
        *(getattr(ProductTable, name).label(f"product_{name}") for name in _PRODUCT_COLUMNS),
        # a row per fixed input of the product (one with NULLs when it has none)
        FixedInputTable.name.label("fixed_name"),
        FixedInputTable.value.label("fixed_value"),
    )
    .join(ProductTable, ProductTable.product_id == SubscriptionTable.product_id)
    .outerjoin(FixedInputTable, FixedInputTable.product_id == ProductTable.product_id)
    .where(SubscriptionTable.subscription_id == _SID)
)


def stored_status(subscription_id: UUID) -> SubscriptionLifecycle:
    with reading(get_database()) as session:
        status = session.scalar(
            select(SubscriptionTable.status).where(SubscriptionTable.subscription_id == subscription_id)
        )
    if status is None:
        raise SubscriptionNotFoundError(subscription_id)
    return SubscriptionLifecycle(status)


def load_subscription(cls: type[M], subscription_id: UUID | str) -> M:
    sid = as_uuid(subscription_id)
    with reading(get_database()) as session:
        connection = connection_of(session)
        rows = connection.execute(_SUBSCRIPTION, {"sid": sid}).all()
        if not rows:
            raise SubscriptionNotFoundError(sid)
        row = rows[0]
        model_cls = cls.model_class_for(row.product_name, row.status)
        tree = _SUBSCRIPTION_TREE.read(connection, sid, {"sid": sid})
    data: dict[str, Any] = {name: getattr(row, name) for name in SUBSCRIPTION_COLUMNS}
    data |= {"subscription_id": sid, "version": row.version, "product": _product_model(row, "product_")}
    fixed = {r.fixed_name: r.fixed_value for r in rows if r.fixed_name is not None}
    for value_field in model_cls._fields().values.values():
        if value_field.name in fixed:
            data[value_field.name] = value_field.decode_item(fixed[value_field.name])
    for spec in model_cls._fields().blocks.values():
        top_level = tree.top_level.get(spec.name, [])
        tree.place(data, spec, [tree.block(spec, instance_id, ()) for instance_id in top_level])
    model = model_cls.model_validate(data)
    snapshot = tree.snapshot
    snapshot.stored, snapshot.version = True, row.version
    snapshot.rows.subscription = {name: data[name] for name in SUBSCRIPTION_COLUMNS}
    snapshot.rows.subscription["product_id"] = row.product_product_id
    model._snapshot = snapshot
    assert isinstance(model, cls)
    return model


def instances_with_values(where: ColumnElement[bool]) -> QueryType:
    """The instances ``where`` finds with their blocks' names and their values, in the values' order: a row per
    value, one with NULLs for an instance without any (the loader's, and the history's snapshot's)."""
    return (
        select(
            _I.subscription_instance_id,
            _I.subscription_id,
            _I.label,
            _I.domain_model_attr,
            _I.order_id,
            ProductBlockTable.name,
            ProductBlockTable.product_block_id,
            ResourceTypeTable.resource_type,
            ResourceTypeTable.resource_type_id,
            _V.order_id.label("value_order"),
            _V.value,
        )
        .join(ProductBlockTable, ProductBlockTable.product_block_id == _I.product_block_id)
        .outerjoin(_V, _V.subscription_instance_id == _I.subscription_instance_id)
        .outerjoin(ResourceTypeTable, ResourceTypeTable.resource_type_id == _V.resource_type_id)
        .where(where)
        .order_by(_V.order_id)
    )


class _TreeQueries:
    """The two queries of the instances a ``reach`` finds, built once: the instances with their values (a row
    per value, one with NULLs for an instance without any), and their relations."""

    def __init__(self, reach: CTE) -> None:
        self.instances = instances_with_values(_I.subscription_instance_id.in_(select(reach.c.id)))
        self.relations = (
            select(_R.in_use_by_id, _R.domain_model_attr, _R.order_id, _R.depends_on_id)
            .where(_R.in_use_by_id.in_(select(reach.c.id)))
            .order_by(_R.order_id)
        )

    def read(self, connection: Connection, owner: UUID, params: dict[str, Any]) -> _Tree:
        instances = connection.execute(self.instances, params).all()
        return _Tree(owner, instances, connection.execute(self.relations, params).all())


_IID = bindparam("iid", type_=_I.subscription_instance_id.type)
_SUBSCRIPTION_TREE = _TreeQueries(reachable(_I.subscription_id == _SID))
_BLOCK_TREE = _TreeQueries(reachable(_I.subscription_instance_id == _IID))
_BLOCK_OWNER = (
    select(_I.subscription_id, SubscriptionTable.status, ProductBlockTable.name)
    .join(SubscriptionTable, SubscriptionTable.subscription_id == _I.subscription_id)
    .join(ProductBlockTable, ProductBlockTable.product_block_id == _I.product_block_id)
    .where(_I.subscription_instance_id == _IID)
)


def load_block(cls: type[B], instance_id: UUID | str, status: SubscriptionLifecycle | str | None) -> B:
    """One stored block (and the blocks it holds), without its subscription: three queries."""
    iid = as_uuid(instance_id)
    with reading(get_database()) as session:
        connection = connection_of(session)
        owner = connection.execute(_BLOCK_OWNER, {"iid": iid}).one_or_none()
        if owner is None:
            raise BlockNotFoundError(iid)
        tree = _BLOCK_TREE.read(connection, owner.subscription_id, {"iid": iid})
    block_cls = cls.model_class_for(owner.name, status or owner.status)
    return cast(B, tree.build(block_cls, iid, ()))


@dataclass
class _Tree:
    """The rows of one load, indexed for building blocks bottom-up."""

    owner: UUID
    value_rows: Sequence[Any]  # the instances' rows, one per value (``_TreeQueries.instances``)
    relation_rows: Sequence[Any]
    snapshot: Snapshot = field(default_factory=Snapshot)

    def __post_init__(self) -> None:
        self.instances: dict[UUID, Any] = {}
        self.values: dict[UUID, dict[str, list[tuple[int, str | None]]]] = defaultdict(lambda: defaultdict(list))
        for row in self.value_rows:
            self.instances.setdefault(row.subscription_instance_id, row)
            if row.resource_type is not None:
                self.values[row.subscription_instance_id][row.resource_type].append((row.value_order, row.value))
                self.snapshot.resource_type_ids[row.resource_type] = row.resource_type_id
        self.children: dict[UUID, dict[str, list[tuple[int, UUID]]]] = defaultdict(lambda: defaultdict(list))
        for row in self.relation_rows:
            self.children[row.in_use_by_id][row.domain_model_attr].append((row.order_id, row.depends_on_id))
        top_level: dict[str, list[tuple[int, UUID]]] = defaultdict(list)
        for row in self.instances.values():
            self.snapshot.block_ids[row.name] = row.product_block_id
            if row.subscription_id == self.owner and row.domain_model_attr is not None:
                top_level[row.domain_model_attr].append((row.order_id or 0, row.subscription_instance_id))
        self.top_level = {attr: [iid for _, iid in sorted(items)] for attr, items in top_level.items()}
        self.built: dict[tuple[type, UUID], ProductBlockModel] = {}

    def place(self, data: dict[str, Any], spec: BlockField, blocks: list[ProductBlockModel]) -> None:
        if spec.is_list:
            data[spec.name] = blocks
        elif blocks:
            data[spec.name] = blocks[0]

    def block(self, spec: BlockField, instance_id: UUID, path: tuple[UUID, ...]) -> ProductBlockModel:
        row = self.instances[instance_id]
        cls = spec.class_for(row.name)
        if cls is None:
            accepted = ", ".join(repr(c.__product_block_name__) for c in spec.candidates)
            raise ValueError(
                f"block {instance_id} in field {spec.name!r} is a {row.name!r} block; the model accepts {accepted}"
            )
        return self.build(cls, instance_id, path)

    def build(self, cls: type[B], instance_id: UUID, path: tuple[UUID, ...]) -> B:
        """The stored block ``instance_id`` as ``cls``, its nested blocks as their fields ask."""
        row = self.instances[instance_id]
        if (cls, instance_id) in self.built:
            return cast(B, self.built[(cls, instance_id)])
        if instance_id in path:
            raise ValueError(f"block {instance_id} contains itself; blocks must form a tree")
        own = row.subscription_id == self.owner
        data: dict[str, Any] = {
            "name": row.name,
            "subscription_instance_id": instance_id,
            "owner_subscription_id": row.subscription_id,
            "label": row.label,
        }
        specs = cls._fields()
        stored = self.values.get(instance_id, {})
        for name, value_field in specs.values.items():
            if name in stored:
                data[name] = value_field.decode(stored[name])
                if own:
                    for order_id, text in stored[name]:
                        self.snapshot.rows.values[(instance_id, name, order_id)] = text
            elif value_field.is_list:
                data[name] = []
        children = self.children.get(instance_id, {})
        for name, child_spec in specs.blocks.items():
            slots = children.get(name, [])
            if own:
                for order_id, child_id in slots:
                    self.snapshot.rows.relations[(instance_id, name, order_id)] = child_id
            built = [self.block(child_spec, child_id, (*path, instance_id)) for _, child_id in slots]
            self.place(data, child_spec, built)
        block = cls.model_validate(data)
        self.built[(cls, instance_id)] = block
        if own:
            self.snapshot.rows.instances[instance_id] = InstanceState(
                row.name, row.label, row.domain_model_attr, row.order_id
            )
        return block
