"""Subscriptions: ``SubscriptionInterface``, which every subscription type implements.

Each product's domain model becomes a type of its own (``NodeSubscription`` for the model
``Node``; see ``orchestrion.graphql.autoregistration``) with the model's fields; ``Subscription``
is the type of the base model, used when a query asks for the interface's fields only (a list),
which costs one query per page instead of loading every subscription's blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import count
from typing import Any
from uuid import UUID

import strawberry
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from orchestrion.db.domain_models import (
    ProcessSubscriptionTable,
    SubscriptionCustomerDescriptionTable,
    SubscriptionTable,
)
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.domain.base import SubscriptionModel
from orchestrion.domain.dump import domain_model_json
from orchestrion.domain.registry import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.domain.relations import depends_on_subscription_ids, in_use_by_subscription_ids
from orchestrion.graphql.loaders import in_scope, load
from orchestrion.graphql.pagination import EMPTY_PAGE, Connection
from orchestrion.graphql.schemas import subscription_version as history
from orchestrion.graphql.schemas.customer import CustomerType, default_customer
from orchestrion.graphql.schemas.customer_description import CustomerDescription
from orchestrion.graphql.schemas.process import ProcessType
from orchestrion.graphql.schemas.product import ProductModelGraphql, fixed_inputs_of_products
from orchestrion.graphql.schemas.subscription_version import SubscriptionVersion, SubscriptionVersionSummary
from orchestrion.graphql.types import JSON, GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.names import to_camel
from orchestrion.types import SubscriptionLifecycle

_BLOCK_KEYS = {
    "id",
    "parent",
    "owner_subscription_id",
    "subscription_instance_id",
    "in_use_by_ids",
    "in_use_by_relations",
}
_EMPTY_SCHEMA = {"title": "SubscriptionMetadata", "type": "object", "properties": {}, "definitions": {}}


@strawberry.input(description="Which related subscriptions to follow")
class SubscriptionRelationFilter:
    statuses: list[str] | None = strawberry.field(default=None, description="Only subscriptions in these statuses")
    recurse_depth_limit: int = strawberry.field(default=10, description="How many relations deep to follow")
    recurse_product_types: list[str] | None = strawberry.field(
        default=None, description="Follow further only through subscriptions of these product types"
    )


def _owner_of(root: Any) -> UUID:
    return root.owner_subscription_id


async def owner_subscription_resolver(root: Any, info: OrchestratorInfo) -> SubscriptionInterface | None:
    """The subscription that owns a block (it may be another than the one it was reached from)."""
    from orchestrion.graphql.resolvers.subscription import subscription_by_id

    return await subscription_by_id(info, _owner_of(root))


@strawberry.type(description="A block of a subscription, flattened: its values, where it sits in the tree, who uses it")
class ProductBlockInstance:
    id: int
    parent: int | None
    subscription_instance_id: UUID
    owner_subscription_id: UUID
    in_use_by_relations: list[JSON]
    product_block_instance_values: JSON
    subscription: SubscriptionInterface | None = strawberry.field(
        description="The subscription that owns the block", resolver=owner_subscription_resolver
    )


def _blocks(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every block of a dumped subscription, depth first, numbered in that order with their parent's number."""
    numbers = count()

    def walk(node: dict[str, Any], parent: int | None) -> Iterator[dict[str, Any]]:
        for value in node.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict) and item.get("owner_subscription_id") is not None:
                    numbered = {**item, "id": next(numbers), "parent": parent}
                    yield numbered
                    yield from walk(item, numbered["id"])

    return walk(tree, None)


def _value(value: Any) -> Any:
    if isinstance(value, list):
        return [_value(v) for v in value if not isinstance(v, dict)]
    return value if isinstance(value, str | int | float | None) else str(value)


def product_block_instances(
    subscription_id: UUID, tags: list[str] | None, resource_types: list[str] | None
) -> list[ProductBlockInstance]:
    """The blocks of a subscription with the values they hold (blocks holding no value are left out)."""
    found = []
    for block in _blocks(domain_model_json(subscription_id, relations=True)):
        if tags and block.get("tag") not in tags:
            continue
        values = [
            {"field": to_camel(key), "value": _value(value)}
            for key, value in block.items()
            if key not in _BLOCK_KEYS
            and not isinstance(value, dict)
            and not (isinstance(value, list) and any(isinstance(v, dict) for v in value))
            and (not resource_types or key in resource_types)
        ]
        if values:
            found.append(
                ProductBlockInstance(
                    id=block["id"],
                    parent=block["parent"],
                    subscription_instance_id=UUID(block["subscription_instance_id"]),
                    owner_subscription_id=UUID(block["owner_subscription_id"]),
                    in_use_by_relations=block.get("in_use_by_relations", []),
                    product_block_instance_values=values,
                )
            )
    return found


def customer_descriptions_of(session: Session, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    D = SubscriptionCustomerDescriptionTable  # noqa: N806
    found: dict[UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(D.id, D.subscription_id, D.customer_id, D.description, D.created_at, D.version).where(
            D.subscription_id.in_(ids)
        )
    )
    for row in rows:
        found.setdefault(row.subscription_id, []).append(dict(row._mapping))
    return found


def last_validated_of(session: Session, ids: list[UUID]) -> dict[UUID, datetime]:
    """When a validate workflow last completed on each subscription."""
    link, p, w = ProcessSubscriptionTable, ProcessTable, WorkflowTable
    query = (
        select(link.subscription_id, func.max(p.last_modified_at))
        .join(p, p.process_id == link.process_id)
        .join(w, w.workflow_id == p.workflow_id)
        .where(link.subscription_id.in_(ids), w.target == "VALIDATE", p.last_status == "completed")
        .group_by(link.subscription_id)
    )
    return dict(session.execute(query).all())


def _model_name(session: Session, subscription_id: UUID) -> str | None:
    from orchestrion.db.domain_models import ProductTable

    return session.scalar(
        select(ProductTable.name)
        .join(SubscriptionTable, SubscriptionTable.product_id == ProductTable.product_id)
        .where(SubscriptionTable.subscription_id == subscription_id)
    )


@strawberry.federation.interface(keys=["subscriptionId"], description="What every subscription has")
class SubscriptionInterface:
    subscription_id: UUID
    customer_id: str
    description: str
    start_date: datetime | None
    end_date: datetime | None
    status: SubscriptionLifecycle
    insync: bool
    note: str | None
    version: int
    product: ProductModelGraphql

    @strawberry.field(name="_schema", description="The JSON schema of the subscription's domain model")
    async def schema(self, info: OrchestratorInfo) -> JSON:
        def read() -> dict[str, Any]:
            with info.context.runtime.database.read() as session:
                name = _model_name(session, self.subscription_id)
            model = SUBSCRIPTION_MODEL_REGISTRY.get(name or "")
            base = getattr(model, "__base_type__", None) or model
            return base.model_json_schema() if base is not None else {}

        return await run_in_threadpool(read)

    @strawberry.field(description="The subscription's blocks with their values")
    async def product_block_instances(
        self, info: OrchestratorInfo, tags: list[str] | None = None, resource_types: list[str] | None = None
    ) -> list[ProductBlockInstance]:
        return await in_scope(info, product_block_instances, self.subscription_id, tags, resource_types)

    @strawberry.field(description="The product's fixed inputs, as {field, value}")
    async def fixed_inputs(self, info: OrchestratorInfo) -> list[JSON]:
        rows = await load(info, fixed_inputs_of_products, self.product.product_id, list)  # type: ignore[attr-defined]
        return [{"field": row["name"], "value": row["value"]} for row in rows]

    @strawberry.field(description="The processes that worked on the subscription")
    async def processes(
        self,
        info: OrchestratorInfo,
        filter_by: list[GraphqlFilter] | None = None,
        sort_by: list[GraphqlSort] | None = None,
        first: int = 10,
        after: int = 0,
    ) -> Connection[ProcessType]:
        from orchestrion.graphql.resolvers.process import resolve_subscription_processes

        return await resolve_subscription_processes(info, self.subscription_id, filter_by, sort_by, first, after)

    @strawberry.field(description="The subscriptions that use this one")
    async def in_use_by_subscriptions(
        self,
        info: OrchestratorInfo,
        filter_by: list[GraphqlFilter] | None = None,
        sort_by: list[GraphqlSort] | None = None,
        first: int = 10,
        after: int = 0,
        in_use_by_filter: SubscriptionRelationFilter | None = None,
    ) -> Connection[SubscriptionInterface]:
        ids = await in_scope(info, in_use_by_subscription_ids, self.subscription_id)
        return await _related(info, ids, filter_by, sort_by, first, after, in_use_by_filter)

    @strawberry.field(description="The subscriptions this one uses")
    async def depends_on_subscriptions(
        self,
        info: OrchestratorInfo,
        filter_by: list[GraphqlFilter] | None = None,
        sort_by: list[GraphqlSort] | None = None,
        first: int = 10,
        after: int = 0,
        depends_on_filter: SubscriptionRelationFilter | None = None,
    ) -> Connection[SubscriptionInterface]:
        ids = await in_scope(info, depends_on_subscription_ids, self.subscription_id)
        return await _related(info, ids, filter_by, sort_by, first, after, depends_on_filter)

    @strawberry.field(description="When a validate workflow last completed on the subscription")
    async def last_validated_at(self, info: OrchestratorInfo) -> datetime | None:
        return await load(info, last_validated_of, self.subscription_id)

    @strawberry.field(description="The subscription's customer")
    def customer(self, info: OrchestratorInfo) -> CustomerType:
        return default_customer(info)

    @strawberry.field(description="What customers call the subscription")
    async def customer_descriptions(self, info: OrchestratorInfo) -> list[CustomerDescription]:
        rows = await load(info, customer_descriptions_of, self.subscription_id, list)
        return [CustomerDescription(**row) for row in rows]

    @strawberry.field(description="The subscription's versions, newest first, each with what it changed")
    async def versions(
        self, info: OrchestratorInfo, first: int = 10, after: int = 0
    ) -> Connection[SubscriptionVersionSummary]:
        return await history.versions(info, self.subscription_id, first, after)

    @strawberry.field(description="Version `version` of the subscription (null when there is none)")
    async def at_version(self, info: OrchestratorInfo, version: int) -> SubscriptionVersion | None:
        return await history.at_version(info, self.subscription_id, version)

    @strawberry.field(description="The version current at `at`, the newest made then or before (null: none yet)")
    async def at_time(self, info: OrchestratorInfo, at: datetime) -> SubscriptionVersion | None:
        return await history.at_time(info, self.subscription_id, at)

    @strawberry.field(description="What changed from version `fromVersion` (0: before the first) to `toVersion`")
    async def versions_diff(self, info: OrchestratorInfo, from_version: int, to_version: int) -> JSON:
        return await history.versions_diff(info, self.subscription_id, from_version, to_version)

    @strawberry.field(name="_metadataSchema", description="The JSON schema of the subscription's metadata")
    def metadata_schema(self) -> JSON:
        return _EMPTY_SCHEMA

    @strawberry.field(description="The subscription's metadata (orchestrion keeps none: always empty)")
    def metadata(self) -> JSON:
        return {}


async def _related(
    info: OrchestratorInfo,
    ids: list[UUID],
    filter_by: list[GraphqlFilter] | None,
    sort_by: list[GraphqlSort] | None,
    first: int,
    after: int,
    relation_filter: SubscriptionRelationFilter | None,
) -> Connection[SubscriptionInterface]:
    from orchestrion.graphql.resolvers.subscription import resolve_subscriptions

    if not ids:
        return EMPTY_PAGE
    filters = [*(filter_by or []), GraphqlFilter(field="subscriptionId", value="|".join(map(str, ids)))]
    if relation_filter and relation_filter.statuses:
        filters.append(GraphqlFilter(field="status", value="|".join(relation_filter.statuses)))
    return await resolve_subscriptions(info, filters, sort_by, first, after)


def base_model(values: dict[str, Any]) -> SubscriptionModel:
    """A ``SubscriptionModel`` (no blocks) from a subscription row's values, without validating them again."""
    from orchestrion.domain.base import ProductModel

    product = ProductModel.model_construct(**values["product"])
    fields = {k: values[k] for k in SubscriptionModel.model_fields if k in values and k != "product"}
    return SubscriptionModel.model_construct(product=product, **fields)
