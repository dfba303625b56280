"""Product blocks of the catalogue (the types, not the instances a subscription holds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import (
    ProductBlockRelationTable,
    ProductBlockTable,
    ResourceTypeTable,
    product_block_resource_types,
)
from orchestrion.domain.lifecycle import ProductLifecycle
from orchestrion.graphql.loaders import load
from orchestrion.graphql.schemas.resource_type import ResourceType, resource_type_values
from orchestrion.graphql.types import OrchestratorInfo


def block_values(b: ProductBlockTable) -> dict[str, Any]:
    return {
        "product_block_id": b.product_block_id,
        "name": b.name,
        "description": b.description,
        "tag": b.tag,
        "status": b.status,
        "created_at": b.created_at,
        "end_date": b.end_date,
    }


def _related_blocks(session: Session, ids: list[UUID], by_user: bool) -> dict[UUID, list[dict[str, Any]]]:
    r = ProductBlockRelationTable
    key, other = (r.in_use_by_id, r.depends_on_id) if by_user else (r.depends_on_id, r.in_use_by_id)
    found: dict[UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(key, ProductBlockTable)
        .join(ProductBlockTable, ProductBlockTable.product_block_id == other)
        .where(key.in_(ids))
        .order_by(ProductBlockTable.name)
    )
    for block_id, block in rows:
        found.setdefault(block_id, []).append(block_values(block))
    return found


def depends_on_blocks(session: Session, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    return _related_blocks(session, ids, by_user=True)


def in_use_by_blocks(session: Session, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    return _related_blocks(session, ids, by_user=False)


def resource_types_of_blocks(session: Session, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    link = product_block_resource_types.c
    found: dict[UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(link.product_block_id, ResourceTypeTable)
        .join(ResourceTypeTable, ResourceTypeTable.resource_type_id == link.resource_type_id)
        .where(link.product_block_id.in_(ids))
        .order_by(ResourceTypeTable.resource_type)
    )
    for block_id, resource_type in rows:
        found.setdefault(block_id, []).append(resource_type_values(resource_type))
    return found


@strawberry.type
class ProductBlock:
    product_block_id: UUID
    name: str
    description: str
    tag: str | None
    status: ProductLifecycle
    created_at: datetime
    end_date: datetime | None

    @strawberry.field(description="The product blocks this one holds")
    async def depends_on(self, info: OrchestratorInfo) -> list[ProductBlock]:
        return [ProductBlock.of(b) for b in await load(info, depends_on_blocks, self.product_block_id, list)]

    @strawberry.field(description="The product blocks that hold this one")
    async def in_use_by(self, info: OrchestratorInfo) -> list[ProductBlock]:
        return [ProductBlock.of(b) for b in await load(info, in_use_by_blocks, self.product_block_id, list)]

    @strawberry.field(description="The kinds of value this block holds")
    async def resource_types(self, info: OrchestratorInfo) -> list[ResourceType]:
        rows = await load(info, resource_types_of_blocks, self.product_block_id, list)
        return [ResourceType.of(r) for r in rows]

    @classmethod
    def of(cls, values: dict[str, Any]) -> ProductBlock:
        return cls(
            product_block_id=values["product_block_id"],
            name=values["name"],
            description=values["description"],
            tag=values["tag"],
            status=ProductLifecycle(values["status"]),
            created_at=values["created_at"],
            end_date=values["end_date"],
        )
