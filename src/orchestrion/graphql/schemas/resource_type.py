"""Resource types: the kinds of value a product block holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import ProductBlockTable, ResourceTypeTable, product_block_resource_types
from orchestrion.graphql.loaders import load
from orchestrion.graphql.types import OrchestratorInfo

if TYPE_CHECKING:
    from orchestrion.graphql.schemas.product_block import ProductBlock


def resource_type_values(r: ResourceTypeTable) -> dict[str, Any]:
    return {"resource_type_id": r.resource_type_id, "resource_type": r.resource_type, "description": r.description}


def blocks_of_resource_types(session: Session, ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    from orchestrion.graphql.schemas.product_block import block_values

    found: dict[UUID, list[dict[str, Any]]] = {}
    link = product_block_resource_types.c
    rows = session.execute(
        select(link.resource_type_id, ProductBlockTable)
        .join(ProductBlockTable, ProductBlockTable.product_block_id == link.product_block_id)
        .where(link.resource_type_id.in_(ids))
        .order_by(ProductBlockTable.name)
    )
    for resource_type_id, block in rows:
        found.setdefault(resource_type_id, []).append(block_values(block))
    return found


@strawberry.type
class ResourceType:
    resource_type_id: UUID
    resource_type: str
    description: str | None

    @strawberry.field(description="The product blocks that hold a value of this type")
    async def product_blocks(
        self, info: OrchestratorInfo
    ) -> list[Annotated[ProductBlock, strawberry.lazy("orchestrion.graphql.schemas.product_block")]]:
        from orchestrion.graphql.schemas.product_block import ProductBlock

        rows = await load(info, blocks_of_resource_types, self.resource_type_id, list)
        return [ProductBlock.of(row) for row in rows]

    @classmethod
    def of(cls, values: dict[str, Any]) -> ResourceType:
        return cls(
            resource_type_id=values["resource_type_id"],
            resource_type=values["resource_type"],
            description=values["description"],
        )
