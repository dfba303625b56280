"""The product catalogue as data: load products, blocks, resource types, fixed inputs and workflow links.

``ensure_catalogue(new)`` takes the dictionary shape of orchestrator-core's migration helper
(``{"product_blocks": ..., "products": ..., "workflows": ...}``) and makes the database match it,
idempotently: a second load of the same data changes nothing, a changed description is updated,
given ids are kept, and whatever the database has that the data lacks is *reported*, never
removed. ``orchestrion catalogue load FILE`` does the same from JSON or YAML.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orchestrion.db import Database, get_database
from orchestrion.db.domain_models import (
    FixedInputTable,
    ProductBlockRelationTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    products_workflows,
)
from orchestrion.db.models import WorkflowTable
from orchestrion.db.types import utcnow
from orchestrion.targets import Target

SECTIONS = ("product_blocks", "products", "workflows", "resource_types")


class CatalogueError(ValueError):
    """The catalogue data is inconsistent (an unknown block, a bad target, ...); nothing was written."""


@dataclass
class CatalogueReport:
    """What a load did: ``created``/``updated`` items as "kind name", and what the data no longer lists."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    not_in_data: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        return (
            [f"created {item}" for item in self.created]
            + [f"updated {item}" for item in self.updated]
            + [f"kept (not in the data, remove it explicitly if intended) {item}" for item in self.not_in_data]
        )


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a catalogue from JSON or YAML (chosen by the file's suffix, YAML otherwise)."""
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: a catalogue is a mapping with {', '.join(SECTIONS)}")
    return data


def _uuid(value: Any, what: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise CatalogueError(f"{what}: {value!r} is not a UUID") from None


def _set(obj: Any, values: dict[str, Any], report: CatalogueReport, label: str) -> None:
    changed = [k for k, v in values.items() if v is not None and getattr(obj, k) != v]
    for key in changed:
        setattr(obj, key, values[key])
    if changed:
        report.updated.append(f"{label} ({', '.join(changed)})")


def _check(new: dict[str, Any]) -> None:
    unknown = set(new) - set(SECTIONS)
    if unknown:
        raise CatalogueError(f"unknown catalogue sections {sorted(unknown)}; expected {', '.join(SECTIONS)}")
    blocks = set(new.get("product_blocks", {}))
    for name, spec in new.get("product_blocks", {}).items():
        for dep in spec.get("depends_on_block_relations", []) or []:
            if dep not in blocks:
                raise CatalogueError(f"product block {name!r} depends on {dep!r}, which the data does not define")
    for name, spec in new.get("products", {}).items():
        if not spec.get("product_type"):
            raise CatalogueError(f"product {name!r} needs a product_type")
        for block in spec.get("product_blocks", []) or []:
            if block not in blocks:
                raise CatalogueError(f"product {name!r} uses block {block!r}, which the data does not define")
    for name, spec in new.get("workflows", {}).items():
        try:
            Target(str(spec.get("target", "")).upper())
        except ValueError:
            targets = ", ".join(t.value for t in Target)
            raise CatalogueError(f"workflow {name!r} needs a target, one of {targets}") from None


def _resource_types(session: Session, new: dict[str, Any], report: CatalogueReport) -> dict[str, ResourceTypeTable]:
    wanted: dict[str, str | None] = dict(new.get("resource_types", {}) or {})
    for spec in new.get("product_blocks", {}).values():
        for name, description in (spec.get("resources") or {}).items():
            wanted.setdefault(name, description)
    existing = {r.resource_type: r for r in session.execute(select(ResourceTypeTable)).scalars()}
    for name, description in wanted.items():
        if name in existing:
            _set(existing[name], {"description": description}, report, f"resource type {name}")
        else:
            existing[name] = ResourceTypeTable(resource_type=name, description=description)
            session.add(existing[name])
            report.created.append(f"resource type {name}")
    report.not_in_data += [f"resource type {n}" for n in existing if n not in wanted]
    return existing


def _blocks(
    session: Session, new: dict[str, Any], types: dict[str, ResourceTypeTable], report: CatalogueReport
) -> dict[str, ProductBlockTable]:
    existing = {b.name: b for b in session.execute(select(ProductBlockTable)).scalars()}
    specs: dict[str, Any] = new.get("product_blocks", {})
    for name, spec in specs.items():
        block = existing.get(name)
        values = {"description": spec.get("description"), "tag": spec.get("tag"), "status": spec.get("status")}
        if block is None:
            block = ProductBlockTable(
                product_block_id=_uuid(spec.get("product_block_id"), f"product block {name}") or uuid.uuid4(),
                name=name,
                description=spec.get("description") or name,
                tag=spec.get("tag"),
                status=spec.get("status") or "active",
                created_at=utcnow(),
            )
            session.add(block)
            existing[name] = block
            report.created.append(f"product block {name}")
        else:
            _set(block, values, report, f"product block {name}")
        have = {rt.resource_type for rt in block.resource_types}
        for rt_name in spec.get("resources") or {}:
            if rt_name not in have:
                block.resource_types.append(types[rt_name])
                report.updated.append(f"product block {name} (+resource {rt_name})")
        report.not_in_data += [
            f"resource {rt} of product block {name}" for rt in have - set(spec.get("resources") or {})
        ]
    session.flush()
    relations = {
        (r.in_use_by_id, r.depends_on_id) for r in session.execute(select(ProductBlockRelationTable)).scalars()
    }
    for name, spec in specs.items():
        for dep in spec.get("depends_on_block_relations") or []:
            key = (existing[name].product_block_id, existing[dep].product_block_id)
            if key not in relations:
                session.add(ProductBlockRelationTable(in_use_by_id=key[0], depends_on_id=key[1]))
                report.updated.append(f"product block {name} (+uses {dep})")
    report.not_in_data += [f"product block {n}" for n in existing if n not in specs]
    return existing


def _products(
    session: Session, new: dict[str, Any], blocks: dict[str, ProductBlockTable], report: CatalogueReport
) -> dict[str, ProductTable]:
    existing = {p.name: p for p in session.execute(select(ProductTable)).scalars()}
    specs: dict[str, Any] = new.get("products", {})
    for name, spec in specs.items():
        product = existing.get(name)
        values = {
            "description": spec.get("description"),
            "product_type": spec.get("product_type"),
            "tag": spec.get("tag"),
            "status": spec.get("status"),
        }
        if product is None:
            product = ProductTable(
                product_id=_uuid(spec.get("product_id"), f"product {name}") or uuid.uuid4(),
                name=name,
                description=spec.get("description") or name,
                product_type=spec["product_type"],
                tag=spec.get("tag") or spec["product_type"],
                status=spec.get("status") or "active",
                created_at=utcnow(),
            )
            session.add(product)
            existing[name] = product
            report.created.append(f"product {name}")
        else:
            _set(product, values, report, f"product {name}")
        have_blocks = {b.name for b in product.product_blocks}
        for block in spec.get("product_blocks") or []:
            if block not in have_blocks:
                product.product_blocks.append(blocks[block])
                report.updated.append(f"product {name} (+block {block})")
        report.not_in_data += [
            f"block {b} of product {name}" for b in have_blocks - set(spec.get("product_blocks") or [])
        ]
        fixed = {f.name: f for f in product.fixed_inputs}
        for fi_name, value in (spec.get("fixed_inputs") or {}).items():
            if fi_name not in fixed:
                product.fixed_inputs.append(FixedInputTable(name=fi_name, value=str(value), created_at=utcnow()))
                report.updated.append(f"product {name} (+fixed input {fi_name})")
            elif fixed[fi_name].value != str(value):
                fixed[fi_name].value = str(value)
                report.updated.append(f"product {name} (fixed input {fi_name})")
        report.not_in_data += [
            f"fixed input {f} of product {name}" for f in set(fixed) - set(spec.get("fixed_inputs") or {})
        ]
    report.not_in_data += [f"product {n}" for n in existing if n not in specs]
    return existing


def _workflows(
    session: Session, new: dict[str, Any], products: dict[str, ProductTable], report: CatalogueReport
) -> None:
    existing = {w.name: w for w in session.execute(select(WorkflowTable)).scalars()}
    session.flush()
    links = {tuple(row) for row in session.execute(select(products_workflows))}
    for name, spec in new.get("workflows", {}).items():
        wf = existing.get(name)
        target = str(spec["target"]).upper()
        values = {"description": spec.get("description"), "target": target, "is_task": spec.get("is_task")}
        if wf is None:
            wf = WorkflowTable(
                workflow_id=uuid.uuid4(),
                name=name,
                target=target,
                description=spec.get("description") or name,
                is_task=bool(spec.get("is_task", target == Target.SYSTEM)),
                created_at=utcnow(),
            )
            session.add(wf)
            session.flush()
            report.created.append(f"workflow {name}")
        else:
            _set(wf, values, report, f"workflow {name}")
        product_type = spec.get("product_type")
        for product in products.values():
            if (
                product_type
                and product.product_type == product_type
                and (product.product_id, wf.workflow_id) not in links
            ):
                session.execute(
                    insert(products_workflows).values(product_id=product.product_id, workflow_id=wf.workflow_id)
                )
                report.updated.append(f"workflow {name} (+product {product.name})")


def ensure_catalogue(new: dict[str, Any], database: Database | None = None) -> CatalogueReport:
    """Make the catalogue in the database match ``new`` (one transaction); returns what changed."""
    _check(new)
    report = CatalogueReport()
    with (database or get_database()).write() as session:
        types = _resource_types(session, new, report)
        blocks = _blocks(session, new, types, report)
        products = _products(session, new, blocks, report)
        _workflows(session, new, products, report)
    return report
