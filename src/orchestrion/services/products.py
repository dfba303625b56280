"""Catalogue look-ups orchestrator-core applications use (``get_product_by_id`` in a form, say).

They read through ``db.session``: the step's transaction in a step, the scope's session elsewhere,
and return ORM rows attached to it (``product.fixed_input_value("speed")`` works on them).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from orchestrion.db import ProductTable, db
from orchestrion.db.types import as_uuid


def get_products(*, filters: list[Any] | None = None) -> list[ProductTable]:
    """All products, or those matching every clause in ``filters`` (``ProductTable.tag == "NODE"``)."""
    query = select(ProductTable)
    for clause in filters or []:
        query = query.where(clause)
    return list(db.session.scalars(query.order_by(ProductTable.name)))


def get_product_by_id(product_id: UUID | str, join_fixed_inputs: bool = True) -> ProductTable | None:
    """The product with this id (its fixed inputs loaded with it), or None."""
    options = [selectinload(ProductTable.fixed_inputs)] if join_fixed_inputs else []
    return db.session.get(ProductTable, as_uuid(product_id), options=options)


def get_product_by_name(name: str) -> ProductTable:
    """The product of this name; ``sqlalchemy.exc.NoResultFound`` when there is none."""
    query = select(ProductTable).options(selectinload(ProductTable.fixed_inputs)).where(ProductTable.name == name)
    return db.session.scalars(query).one()


def get_types() -> list[str]:
    return list(db.session.scalars(select(ProductTable.product_type).distinct().order_by(ProductTable.product_type)))


def get_tags() -> list[str]:
    return list(db.session.scalars(select(ProductTable.tag).distinct().order_by(ProductTable.tag)))
