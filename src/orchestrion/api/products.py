"""``/api/products``, ``/api/product_blocks``, ``/api/resource_types``: the catalogue; descriptions edited here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from orchestrion import catalogue
from orchestrion.api.audit import AuditedRoute, audited_route
from orchestrion.db import get_database
from orchestrion.db.domain_models import ProductBlockTable, ProductTable, ResourceTypeTable
from orchestrion.domain.lifecycle import ProductLifecycle
from orchestrion.errors import NotFoundError
from orchestrion.services.audit import audited

router = APIRouter(route_class=AuditedRoute)
CATALOGUE_CHANGE = "catalogue.change"


DESCRIPTION_LENGTH = 2000  # as orchestrator-core's patch bodies allow
Description = Annotated[str, Field(max_length=DESCRIPTION_LENGTH)]


class DescriptionPatchSchema(BaseModel):
    description: Description | None = None


class ProductPatchSchema(DescriptionPatchSchema):
    status: ProductLifecycle | None = None


class ResourceTypeSchema(BaseModel):
    resource_type_id: uuid.UUID
    resource_type: str
    description: str | None


class ProductBlockSchema(BaseModel):
    product_block_id: uuid.UUID
    name: str
    description: str
    tag: str | None
    status: str
    created_at: datetime
    end_date: datetime | None
    resource_types: list[ResourceTypeSchema]
    depends_on: list[dict[str, Any]]


class ProductSchema(BaseModel):
    product_id: uuid.UUID
    name: str
    description: str
    product_type: str
    tag: str
    status: str
    created_at: datetime
    end_date: datetime | None
    fixed_inputs: list[dict[str, Any]]
    product_blocks: list[dict[str, Any]]
    workflows: list[dict[str, Any]]


def _resource_type(r: ResourceTypeTable) -> dict[str, Any]:
    return {"resource_type_id": r.resource_type_id, "resource_type": r.resource_type, "description": r.description}


def _block(b: ProductBlockTable) -> dict[str, Any]:
    return {
        "product_block_id": b.product_block_id,
        "name": b.name,
        "description": b.description,
        "tag": b.tag,
        "status": b.status,
        "created_at": b.created_at,
        "end_date": b.end_date,
        "resource_types": [_resource_type(r) for r in b.resource_types],
        "depends_on": [{"product_block_id": d.product_block_id, "name": d.name} for d in b.depends_on],
    }


def _product(p: ProductTable) -> dict[str, Any]:
    return {
        "product_id": p.product_id,
        "name": p.name,
        "description": p.description,
        "product_type": p.product_type,
        "tag": p.tag,
        "status": p.status,
        "created_at": p.created_at,
        "end_date": p.end_date,
        "fixed_inputs": [{"name": f.name, "value": f.value} for f in p.fixed_inputs],
        "product_blocks": [{"product_block_id": b.product_block_id, "name": b.name} for b in p.product_blocks],
        "workflows": [
            {"workflow_id": w.workflow_id, "name": w.name, "target": w.target, "description": w.description}
            for w in p.workflows
        ],
    }


@router.get("/products/", response_model=list[ProductSchema])
def list_products(tag: str | None = Query(default=None), product_type: str | None = Query(default=None)) -> Any:
    query = select(ProductTable).order_by(ProductTable.name)
    if tag:
        query = query.where(ProductTable.tag == tag)
    if product_type:
        query = query.where(ProductTable.product_type == product_type)
    with get_database().read() as session:
        return [_product(p) for p in session.execute(query).scalars()]


def _get(table: type[Any], key: uuid.UUID, what: str, render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    with get_database().read() as session:
        found = session.get(table, key)
        if found is None:
            raise NotFoundError(f"{what} {key} not found")
        return render(found)


@router.get("/products/{product_id}", response_model=ProductSchema)
def show_product(product_id: uuid.UUID) -> Any:
    return _get(ProductTable, product_id, "Product", _product)


@router.get("/product_blocks/", response_model=list[ProductBlockSchema])
def list_product_blocks() -> Any:
    """Every product block, by name, with its resource types and the blocks it holds."""
    query = select(ProductBlockTable).order_by(ProductBlockTable.name)
    with get_database().read() as session:
        return [_block(b) for b in session.execute(query).scalars()]


@router.get("/resource_types/", response_model=list[ResourceTypeSchema])
def list_resource_types() -> Any:
    query = select(ResourceTypeTable).order_by(ResourceTypeTable.resource_type)
    with get_database().read() as session:
        return [_resource_type(r) for r in session.execute(query).scalars()]


@router.get("/product_blocks/{product_block_id}", response_model=ProductBlockSchema)
def show_product_block(product_block_id: uuid.UUID) -> Any:
    return _get(ProductBlockTable, product_block_id, "Product block", _block)


@router.get("/resource_types/{resource_type_id}", response_model=ResourceTypeSchema)
def show_resource_type(resource_type_id: uuid.UUID) -> Any:
    return _get(ResourceTypeTable, resource_type_id, "Resource type", _resource_type)


def _changed(body: BaseModel) -> dict[str, Any]:
    """What a patch asks to change, for the audit log."""
    return body.model_dump(mode="json", exclude_none=True)


@router.patch("/products/{product_id}", status_code=status.HTTP_201_CREATED, response_model=ProductSchema)
@audited_route(CATALOGUE_CHANGE, "product", "product_id")
def patch_product(product_id: uuid.UUID, body: ProductPatchSchema) -> Any:
    """Change the description and/or status; ``end of life`` is refused (400) while subscriptions are not terminated."""
    with audited(CATALOGUE_CHANGE, "product", product_id, **_changed(body)) as note, note.write() as session:
        return _product(catalogue.change_product(session, product_id, description=body.description, status=body.status))


@router.patch(
    "/product_blocks/{product_block_id}", status_code=status.HTTP_201_CREATED, response_model=ProductBlockSchema
)
@audited_route(CATALOGUE_CHANGE, "product_block", "product_block_id")
def patch_product_block(product_block_id: uuid.UUID, body: DescriptionPatchSchema) -> Any:
    audit = audited(CATALOGUE_CHANGE, "product_block", product_block_id, **_changed(body))
    with audit as note, note.write() as session:
        return _block(catalogue.change_description(session, ProductBlockTable, product_block_id, body.description))


@router.patch(
    "/resource_types/{resource_type_id}", status_code=status.HTTP_201_CREATED, response_model=ResourceTypeSchema
)
@audited_route(CATALOGUE_CHANGE, "resource_type", "resource_type_id")
def patch_resource_type(resource_type_id: uuid.UUID, body: DescriptionPatchSchema) -> Any:
    audit = audited(CATALOGUE_CHANGE, "resource_type", resource_type_id, **_changed(body))
    with audit as note, note.write() as session:
        return _resource_type(
            catalogue.change_description(session, ResourceTypeTable, resource_type_id, body.description)
        )
