"""The catalogue helpers orchestrator-core applications call from their Alembic migrations.

Same names, arguments and meaning as ``orchestrator.core.migrations.helpers``: a data migration
written for orchestrator-core runs unchanged once its import prefix reads ``orchestrion``. Every
helper takes the migration's connection (``op.get_bind()``) and writes in its transaction, on
SQLite as on PostgreSQL. ``create`` and the ``create_*`` helpers go through the catalogue loader
(``orchestrion.catalogue``), so unknown keys are refused and loading twice changes nothing.

The deletes remove what refers to the deleted row as well (links, fixed inputs), whether or not the
database enforces foreign keys (SQLite in an application's own ``env.py`` does not); a product or
block that subscriptions still use is refused. A workflow that processes refer to is marked
deleted rather than removed, so their history stays.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, inspect, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from orchestrion.catalogue import apply_catalogue_on, link_default_workflows, link_products
from orchestrion.db.domain_models import (
    FixedInputTable,
    ProductBlockRelationTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    SubscriptionInstanceTable,
    SubscriptionTable,
    product_block_resource_types,
    product_product_blocks,
    products_workflows,
)
from orchestrion.db.types import as_uuid
from orchestrion.storage.workflow_rows import delete_workflow_row, ensure_workflow_row, workflow_ids

__all__ = [
    "add_product_block_relation_between_products_by_id",
    "add_products_to_workflow_by_product_tag",
    "create",
    "create_fixed_inputs",
    "create_product_blocks",
    "create_products",
    "create_resource_types_for_product_blocks",
    "create_task",
    "create_workflow",
    "create_workflows",
    "delete",
    "delete_product",
    "delete_product_block",
    "delete_products_by_tag",
    "delete_resource_type",
    "delete_resource_type_by_id",
    "delete_resource_types",
    "delete_resource_types_from_product_blocks",
    "delete_workflow",
    "ensure_default_workflows",
    "get_all_active_products_and_ids",
    "get_fixed_input_id_by_name",
    "get_fixed_inputs_by_product_id",
    "get_product_block_id_by_name",
    "get_product_by_id",
    "get_product_id_by_name",
    "get_product_ids_by_product_type",
    "get_product_name_by_id",
    "get_resource_type_id_by_name",
    "has_table_column",
    "insert_resource_type",
    "remove_product_block_relation_between_products_by_id",
    "remove_products_from_workflow_by_product_tag",
]


def _one(conn: Connection, query: Any, what: str) -> Any:
    found = conn.execute(query).scalar()
    if found is None:
        raise ValueError(f"{what} does not exist")
    return found


# --- look-ups -----------------------------------------------------------------------------------


def has_table_column(table_name: str, column_name: str, conn: Connection) -> bool:
    inspector = inspect(conn)
    if not inspector.has_table(table_name):
        return False
    return any(column["name"] == column_name for column in inspector.get_columns(table_name))


def get_resource_type_id_by_name(conn: Connection, name: str) -> uuid.UUID:
    query = select(ResourceTypeTable.resource_type_id).where(ResourceTypeTable.resource_type == name)
    return _one(conn, query, f"resource type {name!r}")


def get_fixed_input_id_by_name(conn: Connection, name: str) -> uuid.UUID:
    return _one(
        conn, select(FixedInputTable.fixed_input_id).where(FixedInputTable.name == name), f"fixed input {name!r}"
    )


def get_product_block_id_by_name(conn: Connection, name: str) -> uuid.UUID:
    query = select(ProductBlockTable.product_block_id).where(ProductBlockTable.name == name)
    return _one(conn, query, f"product block {name!r}")


def get_product_id_by_name(conn: Connection, name: str) -> uuid.UUID:
    return _one(conn, select(ProductTable.product_id).where(ProductTable.name == name), f"product {name!r}")


def get_product_name_by_id(conn: Connection, id: uuid.UUID | str) -> str:
    return _one(conn, select(ProductTable.name).where(ProductTable.product_id == as_uuid(id)), f"product {id}")


def get_product_by_id(conn: Connection, id: uuid.UUID | str) -> dict[str, Any]:
    row = conn.execute(select(ProductTable.__table__).where(ProductTable.product_id == as_uuid(id))).mappings().one()
    return dict(row)


def get_product_ids_by_product_type(conn: Connection, product_type: str) -> list[uuid.UUID]:
    return list(
        conn.execute(select(ProductTable.product_id).where(ProductTable.product_type == product_type)).scalars()
    )


def get_fixed_inputs_by_product_id(conn: Connection, id: uuid.UUID | str) -> Sequence[Row[Any]]:
    return conn.execute(select(FixedInputTable.__table__).where(FixedInputTable.product_id == as_uuid(id))).fetchall()


def get_all_active_products_and_ids(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(ProductTable.product_id, ProductTable.name).where(ProductTable.status == "active"))
    return [{"product_id": product_id, "name": name} for product_id, name in rows]


# --- creating -----------------------------------------------------------------------------------


def create(conn: Connection, new: dict[str, Any]) -> None:
    """Create (or bring up to date) the products, blocks, resource types and workflows in ``new``.

    ``new`` has the sections ``product_blocks``, ``products``, ``resources`` (resource types for
    blocks that exist already) and ``workflows`` (linked to products by ``tag`` and
    ``search_phrase``); a product names its block with ``root_product_block`` (or lists
    ``product_blocks`` / ``product_block_ids``). Afterwards every product has the default workflows
    (every catalogue load links them).
    """
    apply_catalogue_on(conn, new)


def create_product_blocks(conn: Connection, new: dict[str, Any]) -> dict[str, uuid.UUID]:
    """Create product blocks (``{name: {product_block_id, description, tag, status, ...}}``); their ids."""
    apply_catalogue_on(conn, {"product_blocks": new})
    return {name: get_product_block_id_by_name(conn, name) for name in new}


def create_products(conn: Connection, new: dict[str, Any]) -> dict[str, uuid.UUID]:
    """Create products with their fixed inputs (``{name: {product_id, product_type, ...}}``); their ids."""
    apply_catalogue_on(conn, {"products": new})
    return {name: get_product_id_by_name(conn, name) for name in new}


def create_fixed_inputs(conn: Connection, product_id: uuid.UUID | str, new: dict[str, Any]) -> dict[str, uuid.UUID]:
    """Give the product fixed inputs (``{name: value}`` or ``{name: (value, id)}``); their ids."""
    name = get_product_name_by_id(conn, product_id)
    product = get_product_by_id(conn, product_id)
    apply_catalogue_on(
        conn,
        {"products": {name: {"product_type": product["product_type"], "product_id": product_id, "fixed_inputs": new}}},
    )
    rows = conn.execute(
        select(FixedInputTable.name, FixedInputTable.fixed_input_id).where(
            FixedInputTable.product_id == as_uuid(product_id)
        )
    )
    return {fi_name: fi_id for fi_name, fi_id in rows if fi_name in new}


def create_resource_types_for_product_blocks(conn: Connection, new: dict[str, Any]) -> list[uuid.UUID]:
    """Add resource types (``{block: {resource_type: description}}``) to existing blocks; their ids."""
    apply_catalogue_on(conn, {"resources": new})
    return [get_resource_type_id_by_name(conn, rt) for resources in new.values() for rt in resources]


def insert_resource_type(conn: Connection, resource_type: str, description: str) -> None:
    apply_catalogue_on(conn, {"resource_types": {resource_type: description}})


def create_workflow(conn: Connection, workflow: dict[str, Any]) -> None:
    """Create a workflow (``name``, ``target``, ``description``, ``is_task``) linked to the products of
    its ``product_type`` (and ``product_tag``, when given). Without ``is_task`` a SYSTEM workflow is a task."""
    spec = {k: v for k, v in workflow.items() if k != "name"}
    apply_catalogue_on(conn, {"workflows": {workflow["name"]: spec}})


def create_workflows(conn: Connection, new: dict[str, Any]) -> None:
    """Create workflows (``{name: {workflow_id, target, description, tag, search_phrase}}``) linked to
    the products with that tag whose name is LIKE the search phrase."""
    apply_catalogue_on(conn, {"workflows": new})


def create_task(conn: Connection, task: dict[str, Any]) -> None:
    """Create a task: a SYSTEM workflow with ``is_task`` set (``name``, ``description``)."""
    with Session(bind=conn) as session:
        ensure_workflow_row(session, task["name"], "SYSTEM", description=task.get("description"), is_task=True)
        session.flush()


def ensure_default_workflows(conn: Connection) -> None:
    """Link the workflows named in ``DEFAULT_PRODUCT_WORKFLOWS`` (those that exist) to every product."""
    with Session(bind=conn) as session:
        link_default_workflows(session)
        session.flush()


def add_products_to_workflow_by_product_tag(
    conn: Connection, workflow_name: str, product_tag: str, product_name_like: str = "%%"
) -> None:
    workflow_id = workflow_ids(conn, [workflow_name]).get(workflow_name)
    if workflow_id is None:
        raise ValueError(f"{workflow_name} does not exist")
    with Session(bind=conn) as session:
        link_products(session, workflow_id, {"tag": product_tag, "search_phrase": product_name_like.replace("%%", "%")})
        session.flush()


def remove_products_from_workflow_by_product_tag(
    conn: Connection, workflow_name: str, product_tag: str, product_name_like: str = "%%"
) -> None:
    products = select(ProductTable.product_id).where(
        ProductTable.tag == product_tag, ProductTable.name.like(product_name_like.replace("%%", "%"))
    )
    workflow = workflow_ids(conn, [workflow_name]).get(workflow_name)
    conn.execute(
        sql_delete(products_workflows).where(
            products_workflows.c.workflow_id == workflow, products_workflows.c.product_id.in_(products)
        )
    )


def add_product_block_relation_between_products_by_id(
    conn: Connection, in_use_by_id: uuid.UUID | str, depends_on_id: uuid.UUID | str
) -> None:
    conn.execute(
        insert(ProductBlockRelationTable).values(
            in_use_by_id=as_uuid(in_use_by_id), depends_on_id=as_uuid(depends_on_id)
        )
    )


def remove_product_block_relation_between_products_by_id(
    conn: Connection, in_use_by_id: uuid.UUID | str, depends_on_id: uuid.UUID | str
) -> None:
    conn.execute(
        sql_delete(ProductBlockRelationTable).where(
            ProductBlockRelationTable.in_use_by_id == as_uuid(in_use_by_id),
            ProductBlockRelationTable.depends_on_id == as_uuid(depends_on_id),
        )
    )


# --- deleting -----------------------------------------------------------------------------------


def _refuse_if_used(conn: Connection, query: Any, what: str) -> None:
    count = conn.execute(select(func.count()).select_from(query.subquery())).scalar()
    if count:
        raise ValueError(f"{what} cannot be deleted: {count} subscription(s) use it")


def delete_workflow(conn: Connection, name: str) -> None:
    """Delete a workflow and its product links (marked deleted instead while processes refer to it)."""
    with Session(bind=conn) as session:
        delete_workflow_row(session, name)


def delete_product(conn: Connection, name: str) -> None:
    """Delete a product with its fixed inputs and links; refused while subscriptions are on it."""
    product_id = conn.execute(select(ProductTable.product_id).where(ProductTable.name == name)).scalar()
    if product_id is None:
        return
    _refuse_if_used(
        conn,
        select(SubscriptionTable.subscription_id).where(SubscriptionTable.product_id == product_id),
        f"product {name!r}",
    )
    conn.execute(sql_delete(FixedInputTable).where(FixedInputTable.product_id == product_id))
    conn.execute(sql_delete(product_product_blocks).where(product_product_blocks.c.product_id == product_id))
    conn.execute(sql_delete(products_workflows).where(products_workflows.c.product_id == product_id))
    conn.execute(sql_delete(ProductTable).where(ProductTable.product_id == product_id))


def delete_products_by_tag(conn: Connection, name: str) -> None:
    """Delete the product called ``name`` (the reference's name for it, kept)."""
    delete_product(conn, name)


def delete_product_block(conn: Connection, name: str) -> None:
    """Delete a product block with its links; refused while subscriptions hold such a block."""
    block_id = conn.execute(select(ProductBlockTable.product_block_id).where(ProductBlockTable.name == name)).scalar()
    if block_id is None:
        return
    _refuse_if_used(
        conn,
        select(SubscriptionInstanceTable.subscription_instance_id).where(
            SubscriptionInstanceTable.product_block_id == block_id
        ),
        f"product block {name!r}",
    )
    conn.execute(sql_delete(product_product_blocks).where(product_product_blocks.c.product_block_id == block_id))
    conn.execute(
        sql_delete(product_block_resource_types).where(product_block_resource_types.c.product_block_id == block_id)
    )
    conn.execute(
        sql_delete(ProductBlockRelationTable).where(
            (ProductBlockRelationTable.in_use_by_id == block_id) | (ProductBlockRelationTable.depends_on_id == block_id)
        )
    )
    conn.execute(sql_delete(ProductBlockTable).where(ProductBlockTable.product_block_id == block_id))


def delete_resource_type_by_id(conn: Connection, id: uuid.UUID | str) -> None:
    resource_type_id = as_uuid(id)
    conn.execute(
        sql_delete(product_block_resource_types).where(
            product_block_resource_types.c.resource_type_id == resource_type_id
        )
    )
    conn.execute(sql_delete(ResourceTypeTable).where(ResourceTypeTable.resource_type_id == resource_type_id))


def delete_resource_type(conn: Connection, resource_type: str) -> None:
    """Delete a resource type and its links to product blocks."""
    found = conn.execute(
        select(ResourceTypeTable.resource_type_id).where(ResourceTypeTable.resource_type == resource_type)
    ).scalar()
    if found is not None:
        delete_resource_type_by_id(conn, found)


def delete_resource_types(conn: Connection, delete: Iterable[str]) -> None:
    for resource_type in delete:
        delete_resource_type(conn, resource_type)


def delete_resource_types_from_product_blocks(conn: Connection, delete: dict[str, Any]) -> None:
    """Unlink resource types from blocks (``{block: {resource_type: ...}}``); the types themselves stay."""
    for block_name, resource_types in delete.items():
        block_id = get_product_block_id_by_name(conn, block_name)
        type_ids = select(ResourceTypeTable.resource_type_id).where(
            ResourceTypeTable.resource_type.in_(list(resource_types))
        )
        conn.execute(
            product_block_resource_types.delete().where(
                product_block_resource_types.c.product_block_id == block_id,
                product_block_resource_types.c.resource_type_id.in_(type_ids),
            )
        )


def delete(conn: Connection, obsolete: dict[str, Any]) -> None:
    """Delete the products, product blocks, resource types and workflows ``obsolete`` names.

    Each section is a list of names, or the same mapping ``create`` was given (its keys are the names).
    """
    for product in obsolete.get("products") or ():
        delete_product(conn, product)
    for block in obsolete.get("product_blocks") or ():
        delete_product_block(conn, block)
    for resource_type in obsolete.get("resource_types") or ():
        delete_resource_type(conn, resource_type)
    for workflow in obsolete.get("workflows") or ():
        delete_workflow(conn, workflow)
