"""Products: the catalogue's ``ProductType``, and ``ProductModelGraphql``, a subscription's product."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast
from uuid import UUID

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import (
    FixedInputTable,
    ProductBlockRelationTable,
    ProductBlockTable,
    ProductTable,
    product_product_blocks,
)
from orchestrion.domain.base import ProductModel
from orchestrion.domain.lifecycle import ProductLifecycle
from orchestrion.graphql.loaders import load
from orchestrion.graphql.pagination import Connection
from orchestrion.graphql.schemas.fixed_input import FixedInput
from orchestrion.graphql.schemas.product_block import ProductBlock, block_values
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.storage.workflow_search import workflows_of_products

if TYPE_CHECKING:
    from orchestrion.graphql.schemas.subscription import SubscriptionInterface
    from orchestrion.graphql.schemas.workflow import Workflow


def product_values(p: ProductTable) -> dict[str, Any]:
    return {
        "product_id": p.product_id,
        "name": p.name,
        "description": p.description,
        "product_type": p.product_type,
        "tag": p.tag,
        "status": p.status,
        "created_at": p.created_at,
        "end_date": p.end_date,
    }


def products_by_id(session: Session, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    return {
        p.product_id: product_values(p)
        for p in session.scalars(select(ProductTable).where(ProductTable.product_id.in_(ids)))
    }


def blocks_of_products(session: Session, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    link = product_product_blocks.c
    found: dict[UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(link.product_id, ProductBlockTable)
        .join(ProductBlockTable, ProductBlockTable.product_block_id == link.product_block_id)
        .where(link.product_id.in_(ids))
        .order_by(ProductBlockTable.name)
    )
    for product_id, block in rows:
        found.setdefault(product_id, []).append(block_values(block))
    return found


def all_block_names_of_products(session: Session, ids: list[UUID]) -> dict[UUID, list[str]]:
    """Every block name a product's blocks reach through the blocks they hold."""
    link = product_product_blocks.c
    direct: dict[UUID, set[UUID]] = {}
    for product_id, block_id in session.execute(
        select(link.product_id, link.product_block_id).where(link.product_id.in_(ids))
    ):
        direct.setdefault(product_id, set()).add(block_id)
    holds: dict[UUID, set[UUID]] = {}
    r = ProductBlockRelationTable
    for user, used in session.execute(select(r.in_use_by_id, r.depends_on_id)):
        holds.setdefault(user, set()).add(used)
    names = dict(session.execute(select(ProductBlockTable.product_block_id, ProductBlockTable.name)).all())
    found = {}
    for product_id, start in direct.items():
        seen, todo = set(start), list(start)
        while todo:
            for used in holds.get(todo.pop(), ()):
                if used not in seen:
                    seen.add(used)
                    todo.append(used)
        found[product_id] = sorted(names[b] for b in seen)
    return found


def fixed_inputs_of_products(session: Session, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    f = FixedInputTable
    found: dict[UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(f.fixed_input_id, f.name, f.value, f.product_id, f.created_at)
        .where(f.product_id.in_(ids))
        .order_by(f.name)
    )
    for row in rows:
        found.setdefault(row.product_id, []).append(dict(row._mapping))
    return found


@strawberry.federation.type(
    keys=["productId"], description="A product of the catalogue, with its blocks, fixed inputs and workflows"
)
class ProductType:
    product_id: UUID
    name: str
    description: str
    product_type: str
    status: ProductLifecycle
    tag: str
    created_at: datetime
    end_date: datetime | None

    @strawberry.field(description="The product type")
    def type(self) -> str:
        return cast(ProductModel, self).product_type  # all_fields copies the model's fields

    @strawberry.field(description="Subscriptions of this product")
    async def subscriptions(
        self,
        info: OrchestratorInfo,
        filter_by: list[GraphqlFilter] | None = None,
        sort_by: list[GraphqlSort] | None = None,
        first: int = 10,
        after: int = 0,
    ) -> Connection[Annotated[SubscriptionInterface, strawberry.lazy("orchestrion.graphql.schemas.subscription")]]:
        from orchestrion.graphql.resolvers.subscription import resolve_subscriptions

        own = GraphqlFilter(field="productId", value=str(self.product_id))
        return await resolve_subscriptions(info, [*(filter_by or []), own], sort_by, first, after)

    @strawberry.field(description="The names of every block the product's blocks reach")
    async def all_product_block_names(self, info: OrchestratorInfo) -> list[str]:
        return list(await load(info, all_block_names_of_products, self.product_id, list))

    @strawberry.field(description="The product's blocks")
    async def product_blocks(self, info: OrchestratorInfo) -> list[ProductBlock]:
        return [ProductBlock.of(b) for b in await load(info, blocks_of_products, self.product_id, list)]

    @strawberry.field(description="The product's fixed inputs")
    async def fixed_inputs(self, info: OrchestratorInfo) -> list[FixedInput]:
        return [FixedInput(**values) for values in await load(info, fixed_inputs_of_products, self.product_id, list)]

    @strawberry.field(description="The workflows that can run on the product's subscriptions")
    async def workflows(
        self, info: OrchestratorInfo
    ) -> list[Annotated[Workflow, strawberry.lazy("orchestrion.graphql.schemas.workflow")]]:
        from orchestrion.graphql.schemas.workflow import Workflow

        return [Workflow.of(values) for values in await load(info, workflows_of_products, self.product_id, list)]

    @classmethod
    def of(cls, values: dict[str, Any]) -> ProductType:
        return cls(
            product_id=values["product_id"],
            name=values["name"],
            description=values["description"],
            product_type=values["product_type"],
            status=ProductLifecycle(values["status"]),
            tag=values["tag"],
            created_at=values["created_at"],
            end_date=values["end_date"],
        )


@strawberry.experimental.pydantic.type(
    model=ProductModel, all_fields=True, description="A subscription's product (its own fields only)"
)
class ProductModelGraphql:
    @strawberry.field(description="The product type")
    def type(self) -> str:
        return cast(ProductModel, self).product_type  # all_fields copies the model's fields
