"""Compare the registered domain model classes with the catalogue in the database.

Each product's model (every lifecycle class of its family) declares fixed inputs, root blocks,
and per block its resource types and nested blocks. The catalogue in the database must have the
same: a field the database lacks cannot be stored, a block the database lacks cannot be created.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import ProductBlockTable, ProductTable
from orchestrion.domain.base import DomainModel, ProductBlockModel
from orchestrion.domain.registry import _LIFECYCLE_CLASSES, SUBSCRIPTION_MODEL_REGISTRY


def _family(cls: type[DomainModel]) -> list[type[DomainModel]]:
    """The base class and every lifecycle class of ``cls``'s family."""
    base = cls._family()
    found = {klass for (family, _), klass in _LIFECYCLE_CLASSES.items() if family is base}
    return sorted(found | {base, cls}, key=lambda k: k.__name__)


def _declared(cls: type[DomainModel]) -> tuple[set[str], dict[str, set[type[ProductBlockModel]]]]:
    """Value fields, and block fields with the block classes they accept, over the whole family."""
    values: set[str] = set()
    blocks: dict[str, set[type[ProductBlockModel]]] = {}
    for klass in _family(cls):
        specs = klass._fields()
        values |= set(specs.values)
        for name, field in specs.blocks.items():
            blocks.setdefault(name, set()).update(field.candidates)
    return values, blocks


def _block_names(classes: set[type[ProductBlockModel]]) -> set[str]:
    return {c.__product_block_name__ for c in classes}


def _walk_blocks(roots: set[type[ProductBlockModel]]) -> Iterator[type[ProductBlockModel]]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        block = todo.pop()
        if block.__product_block_name__ in seen:
            continue
        seen.add(block.__product_block_name__)
        yield block
        for nested in _declared(block)[1].values():
            todo.extend(nested)


def catalogue_mismatches(session: Session, models: dict[str, Any] | None = None) -> list[str]:
    """Every difference between the registered models and the catalogue, in words (empty: they agree)."""
    models = SUBSCRIPTION_MODEL_REGISTRY if models is None else models
    problems: list[str] = []
    products = {p.name: p for p in session.execute(select(ProductTable)).scalars()}
    blocks = {b.name: b for b in session.execute(select(ProductBlockTable)).scalars()}
    checked_blocks: set[str] = set()
    for product_name, model in sorted(models.items()):
        product = products.get(product_name)
        if product is None:
            problems.append(f"product {product_name!r}: has a domain model but is not in the catalogue")
            continue
        values, root_fields = _declared(model)
        fixed = {f.name for f in product.fixed_inputs}
        problems += [f"product {product_name!r}: fixed input {v!r} is missing" for v in sorted(values - fixed)]
        problems += [f"product {product_name!r}: fixed input {f!r} is not in the model" for f in sorted(fixed - values)]
        roots = set().union(*root_fields.values()) if root_fields else set()
        linked = {b.name for b in product.product_blocks}
        problems += [
            f"product {product_name!r}: block {b!r} is not linked to the product"
            for b in sorted(_block_names(roots) - linked)
        ]
        for block in _walk_blocks(roots):
            name = block.__product_block_name__
            if name in checked_blocks:
                continue
            checked_blocks.add(name)
            row = blocks.get(name)
            if row is None:
                problems.append(f"product block {name!r}: used by the model of {product_name!r}, not in the catalogue")
                continue
            resources, nested = _declared(block)
            stored = {rt.resource_type for rt in row.resource_types}
            problems += [f"product block {name!r}: resource type {r!r} is missing" for r in sorted(resources - stored)]
            problems += [
                f"product block {name!r}: resource type {r!r} is not in the model" for r in sorted(stored - resources)
            ]
            wanted = _block_names(set().union(*nested.values())) if nested else set()
            related = {d.name for d in row.depends_on}
            problems += [
                f"product block {name!r}: relation to block {d!r} is missing" for d in sorted(wanted - related)
            ]
    return problems
