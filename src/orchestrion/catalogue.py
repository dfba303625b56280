"""The product catalogue as data: load products, blocks, resource types, fixed inputs and workflow links.

``ensure_catalogue(new)`` takes the dictionary shape of orchestrator-core's migration helper
(``{"product_blocks": ..., "products": ..., "workflows": ...}``) and makes the database match it,
idempotently: a second load of the same data changes nothing, a changed description is updated,
given ids are kept, and whatever the database has that the data lacks is *reported*, never
removed. ``orchestrion catalogue load FILE`` does the same from JSON or YAML, and the migration
helpers (``orchestrion.migrations.helpers.create``) with the connection of a migration. Every load
links the workflows of ``DEFAULT_PRODUCT_WORKFLOWS`` (``modify_note``) to every product, as
orchestrator-core's migrations do. The API's edits of single rows (a description, a product's
status) are made here too, so the catalogue rows have one writer.

Data can build on what the database already has (a migration adding a product that uses a block an
earlier one created). Keys the shape does not know are refused, naming the key and where it is,
rather than ignored: a misspelt key would otherwise silently leave a product without its blocks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from orchestrion.db import Database, get_database
from orchestrion.db.domain_models import (
    FixedInputTable,
    ProductBlockRelationTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    SubscriptionTable,
    products_workflows,
)
from orchestrion.db.types import utcnow
from orchestrion.domain.lifecycle import ProductLifecycle
from orchestrion.errors import InvalidInputError, NotFoundError, ProductNotFoundError
from orchestrion.settings import app_settings
from orchestrion.storage.workflow_rows import ensure_workflow_row, update_workflow_row, workflow_ids
from orchestrion.targets import Target
from orchestrion.types import SubscriptionLifecycle

SECTIONS = ("product_blocks", "products", "workflows", "resource_types", "resources")
# The keys each kind of entry may have (orchestrator-core's ``create(conn, new)`` shape).
KEYS = {
    "product block": {
        "product_block_id",
        "description",
        "tag",
        "status",
        "resources",
        "depends_on_block_relations",
        "in_use_by_block_relations",
    },
    "product": {
        "product_id",
        "name",
        "product_type",
        "description",
        "tag",
        "status",
        "product_blocks",
        "root_product_block",
        "product_block_ids",
        "fixed_inputs",
    },
    "workflow": {
        "workflow_id",
        "name",
        "target",
        "description",
        "is_task",
        "product_type",
        "product_tag",
        "tag",
        "search_phrase",
    },
}


class CatalogueError(InvalidInputError):
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


def _text_and_id(value: Any, what: str) -> tuple[str | None, uuid.UUID | None]:
    """A description or value, given alone or (as orchestrator-core allows) as ``(text, id)``."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise CatalogueError(f"{what}: expected a text or a (text, id) pair, not {value!r}")
        return (None if value[0] is None else str(value[0])), _uuid(value[1], what)
    return (None if value is None else str(value)), None


def _entries(new: dict[str, Any], section: str, kind: str) -> dict[str, dict[str, Any]]:
    entries = new.get(section) or {}
    if not isinstance(entries, dict):
        raise CatalogueError(f"{section} must be a mapping of names to {kind} entries")
    for name, spec in entries.items():
        if not isinstance(spec, dict):
            raise CatalogueError(f"{kind} {name!r} must be a mapping, not {type(spec).__name__}")
        if unknown := set(spec) - KEYS[kind]:
            raise CatalogueError(
                f"{kind} {name!r} has unknown key(s) {', '.join(map(repr, sorted(unknown)))}; "
                f"allowed: {', '.join(sorted(KEYS[kind]))}"
            )
        if spec.get("name", name) != name:
            raise CatalogueError(f"{kind} {name!r} says its name is {spec['name']!r}")
    return entries


def _check(new: dict[str, Any]) -> None:
    if unknown := set(new) - set(SECTIONS):
        raise CatalogueError(f"unknown catalogue sections {sorted(unknown)}; expected {', '.join(SECTIONS)}")
    _entries(new, "product_blocks", "product block")
    for name, spec in _entries(new, "products", "product").items():
        if not spec.get("product_type"):
            raise CatalogueError(f"product {name!r} needs a product_type")
        root, listed = spec.get("root_product_block"), spec.get("product_blocks")
        if root is not None and listed is not None and list(listed) != [root]:
            raise CatalogueError(
                f"product {name!r} gives root_product_block {root!r} and product_blocks {listed!r}; give one"
            )
    for name, spec in _entries(new, "workflows", "workflow").items():
        try:
            Target(str(spec.get("target", "")).upper())
        except ValueError:
            targets = ", ".join(t.value for t in Target)
            raise CatalogueError(f"workflow {name!r} needs a target, one of {targets}") from None


class _Loader:
    """One load in one session: what exists, what the data adds, and the report."""

    def __init__(self, session: Session, new: dict[str, Any], on_entry: Callable[[str], None] | None) -> None:
        self.session = session
        self.new = new
        self.report = CatalogueReport()
        self.on_entry = on_entry or (lambda _entry: None)

    def _set(self, obj: Any, values: dict[str, Any], label: str) -> None:
        changed = [k for k, v in values.items() if v is not None and getattr(obj, k) != v]
        for key in changed:
            setattr(obj, key, values[key])
        if changed:
            self.report.updated.append(f"{label} ({', '.join(changed)})")

    def run(self) -> CatalogueReport:
        self.resource_types()
        self.blocks()
        self.block_resources()
        self.products()
        self.workflows()
        self.report.updated += link_default_workflows(self.session)
        return self.report

    # --- resource types -------------------------------------------------------------------------

    def _wanted_resource_types(self) -> dict[str, tuple[str | None, uuid.UUID | None]]:
        wanted: dict[str, tuple[str | None, uuid.UUID | None]] = {}
        for name, description in (self.new.get("resource_types") or {}).items():
            wanted[name] = _text_and_id(description, f"resource type {name}")
        resource_maps = [spec.get("resources") or {} for spec in (self.new.get("product_blocks") or {}).values()]
        resource_maps += list((self.new.get("resources") or {}).values())
        for resources in resource_maps:
            for name, description in resources.items():
                wanted.setdefault(name, _text_and_id(description, f"resource type {name}"))
        return wanted

    def resource_types(self) -> None:
        wanted = self._wanted_resource_types()
        existing = {r.resource_type: r for r in self.session.execute(select(ResourceTypeTable)).scalars()}
        for name, (description, given_id) in wanted.items():
            if name in existing:
                self._set(existing[name], {"description": description}, f"resource type {name}")
            else:
                existing[name] = ResourceTypeTable(
                    resource_type_id=given_id or uuid.uuid4(), resource_type=name, description=description
                )
                self.session.add(existing[name])
                self.report.created.append(f"resource type {name}")
        self.report.not_in_data += [f"resource type {n}" for n in existing if n not in wanted]
        self.types = existing

    # --- product blocks -------------------------------------------------------------------------

    def blocks(self) -> None:
        existing = {b.name: b for b in self.session.execute(select(ProductBlockTable)).scalars()}
        specs: dict[str, Any] = self.new.get("product_blocks") or {}
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
                self.session.add(block)
                existing[name] = block
                self.report.created.append(f"product block {name}")
            else:
                self._set(block, values, f"product block {name}")
            self._add_resources(block, spec.get("resources") or {})
            have = {rt.resource_type for rt in block.resource_types}
            self.report.not_in_data += [
                f"resource {rt} of product block {name}" for rt in have - set(spec.get("resources") or {})
            ]
            self.on_entry(f"product block {name}")
        self.session.flush()
        self.existing_blocks = existing
        relations = {
            (r.in_use_by_id, r.depends_on_id) for r in self.session.execute(select(ProductBlockRelationTable)).scalars()
        }
        for name, spec in specs.items():
            pairs = [(name, dep) for dep in spec.get("depends_on_block_relations") or []]
            pairs += [(user, name) for user in spec.get("in_use_by_block_relations") or []]
            for user, used in pairs:
                key = (
                    self._block(user, f"product block {name}").product_block_id,
                    self._block(used, name).product_block_id,
                )
                if key not in relations:
                    relations.add(key)
                    self.session.add(ProductBlockRelationTable(in_use_by_id=key[0], depends_on_id=key[1]))
                    self.report.updated.append(f"product block {user} (+uses {used})")
        self.report.not_in_data += [f"product block {n}" for n in existing if n not in specs]

    def _block(self, name: str, used_by: str) -> ProductBlockTable:
        block = self.existing_blocks.get(name)
        if block is None:
            raise CatalogueError(
                f"{used_by} refers to product block {name!r}, which neither the data nor the database has"
            )
        return block

    def _add_resources(self, block: ProductBlockTable, resources: dict[str, Any]) -> None:
        have = {rt.resource_type for rt in block.resource_types}
        for rt_name in resources:
            if rt_name not in have:
                block.resource_types.append(self.types[rt_name])
                self.report.updated.append(f"product block {block.name} (+resource {rt_name})")

    def block_resources(self) -> None:
        """The ``resources`` section: resource types added to blocks that already exist."""
        for block_name, resources in (self.new.get("resources") or {}).items():
            self._add_resources(self._block(block_name, "the resources section"), resources or {})

    # --- products -------------------------------------------------------------------------------

    def _product_block_names(self, name: str, spec: dict[str, Any]) -> list[str]:
        names = (
            [spec["root_product_block"]] if spec.get("root_product_block") else list(spec.get("product_blocks") or [])
        )
        by_id = {b.product_block_id: b.name for b in self.existing_blocks.values()}
        for given in spec.get("product_block_ids") or []:
            block_id = _uuid(given, f"product {name}")
            if block_id not in by_id:
                raise CatalogueError(f"product {name!r} refers to product block id {given}, which does not exist")
            if by_id[block_id] not in names:
                names.append(by_id[block_id])
        for block in names:
            self._block(block, f"product {name!r}")
        return names

    def products(self) -> None:
        existing = {p.name: p for p in self.session.execute(select(ProductTable)).scalars()}
        specs: dict[str, Any] = self.new.get("products") or {}
        for name, spec in specs.items():
            blocks = self._product_block_names(name, spec)
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
                self.session.add(product)
                existing[name] = product
                self.report.created.append(f"product {name}")
            else:
                self._set(product, values, f"product {name}")
            have_blocks = {b.name for b in product.product_blocks}
            for block in blocks:
                if block not in have_blocks:
                    product.product_blocks.append(self.existing_blocks[block])
                    self.report.updated.append(f"product {name} (+block {block})")
            self.report.not_in_data += [f"block {b} of product {name}" for b in have_blocks - set(blocks)]
            self._fixed_inputs(product, spec.get("fixed_inputs") or {})
            self.on_entry(f"product {name}")
        self.report.not_in_data += [f"product {n}" for n in existing if n not in specs]
        self.session.flush()

    def _fixed_inputs(self, product: ProductTable, given: dict[str, Any]) -> None:
        fixed = {f.name: f for f in product.fixed_inputs}
        for fi_name, raw in given.items():
            value, given_id = _text_and_id(raw, f"fixed input {fi_name} of product {product.name}")
            value = "" if value is None else value
            if fi_name not in fixed:
                product.fixed_inputs.append(
                    FixedInputTable(
                        fixed_input_id=given_id or uuid.uuid4(), name=fi_name, value=value, created_at=utcnow()
                    )
                )
                self.report.updated.append(f"product {product.name} (+fixed input {fi_name})")
            elif fixed[fi_name].value != value:
                fixed[fi_name].value = value
                self.report.updated.append(f"product {product.name} (fixed input {fi_name})")
        self.report.not_in_data += [f"fixed input {f} of product {product.name}" for f in set(fixed) - set(given)]

    # --- workflows ------------------------------------------------------------------------------

    def workflows(self) -> None:
        for name, spec in (self.new.get("workflows") or {}).items():
            target = str(spec["target"]).upper()
            workflow_id, created = ensure_workflow_row(
                self.session,
                name,
                target,
                description=spec.get("description"),
                is_task=spec.get("is_task"),
                workflow_id=_uuid(spec.get("workflow_id"), f"workflow {name}"),
            )
            if created:
                self.report.created.append(f"workflow {name}")
            elif changed := update_workflow_row(
                self.session, name, description=spec.get("description"), target=target, is_task=spec.get("is_task")
            ):
                self.report.updated.append(f"workflow {name} ({', '.join(changed)})")
            for product in link_products(self.session, workflow_id, spec):
                self.report.updated.append(f"workflow {name} (+product {product})")
            self.on_entry(f"workflow {name}")


def link_products(
    session: Session, workflow_id: uuid.UUID, spec: dict[str, Any], *, every_product: bool = False
) -> list[str]:
    """Link a workflow to the products its entry selects; the names of those newly linked.

    ``product_type`` selects every product of that type; ``product_tag`` (or ``tag``) narrows to (or
    selects) a tag; ``search_phrase`` narrows to product names LIKE it. No selector links nothing,
    unless ``every_product``.
    """
    tag = spec.get("product_tag") or spec.get("tag")
    conditions = []
    if spec.get("product_type"):
        conditions.append(ProductTable.product_type == spec["product_type"])
    if tag:
        conditions.append(ProductTable.tag == tag)
    if not conditions and not every_product:
        return []
    if spec.get("search_phrase"):
        conditions.append(ProductTable.name.like(spec["search_phrase"]))
    linked = set(
        session.execute(
            select(products_workflows.c.product_id).where(products_workflows.c.workflow_id == workflow_id)
        ).scalars()
    )
    added = []
    for product in session.execute(select(ProductTable).where(*conditions).order_by(ProductTable.name)).scalars():
        if product.product_id not in linked:
            session.execute(insert(products_workflows).values(product_id=product.product_id, workflow_id=workflow_id))
            added.append(product.name)
    return added


def link_default_workflows(session: Session) -> list[str]:
    """Link the workflows of ``DEFAULT_PRODUCT_WORKFLOWS`` that have a row to every product; what was added."""
    added = []
    for name, workflow_id in workflow_ids(session, app_settings.DEFAULT_PRODUCT_WORKFLOWS).items():
        added += [
            f"workflow {name} (+product {p})" for p in link_products(session, workflow_id, {}, every_product=True)
        ]
    return added


def entry_count(new: dict[str, Any]) -> int:
    """How many product blocks, products and workflows ``new`` has: the steps ``on_entry`` is called for."""
    return sum(len(new.get(section) or {}) for section in ("product_blocks", "products", "workflows"))


def apply_catalogue(
    session: Session, new: dict[str, Any], on_entry: Callable[[str], None] | None = None
) -> CatalogueReport:
    """Make the catalogue in ``session``'s transaction match ``new``; flushes, never commits.

    ``on_entry`` is called with each product block, product and workflow once it is done (progress).
    """
    _check(new)
    report = _Loader(session, new, on_entry).run()
    session.flush()
    return report


def apply_catalogue_on(connection: Connection, new: dict[str, Any]) -> CatalogueReport:
    """``apply_catalogue`` on a connection in a transaction of its own (an Alembic migration's)."""
    session = Session(bind=connection, autoflush=False)
    try:
        return apply_catalogue(session, new)
    finally:
        session.close()


def ensure_catalogue(
    new: dict[str, Any], database: Database | None = None, on_entry: Callable[[str], None] | None = None
) -> CatalogueReport:
    """Make the catalogue in the database match ``new`` (one transaction); returns what changed."""
    with (database or get_database()).write() as session:
        return apply_catalogue(session, new, on_entry)


# --- single rows changed through the API ----------------------------------------------------------

Described = TypeVar("Described", ProductBlockTable, ResourceTypeTable)
_WHAT = {ProductBlockTable: "Product block", ResourceTypeTable: "Resource type"}


def change_description(session: Session, table: type[Described], key: uuid.UUID, description: str | None) -> Described:
    """Set the description of a product block or resource type (None: leave it)."""
    found = session.get(table, key)
    if found is None:
        raise NotFoundError(f"{_WHAT[table]} {key} not found")
    if description is not None:
        found.description = description
        session.flush()
    return found


def change_product(
    session: Session, product_id: uuid.UUID, *, description: str | None = None, status: ProductLifecycle | None = None
) -> ProductTable:
    """Set a product's description and status (None: leave it); ``end of life`` only once no subscription lives."""
    product = session.get(ProductTable, product_id)
    if product is None:
        raise ProductNotFoundError(product_id)
    if status == ProductLifecycle.END_OF_LIFE:
        living = session.scalar(
            select(func.count()).where(
                SubscriptionTable.product_id == product_id,
                SubscriptionTable.status != SubscriptionLifecycle.TERMINATED.value,
            )
        )
        if living:
            raise CatalogueError(
                f"Product {product.name!r} cannot be set to 'end of life': {living} subscription(s) are not terminated"
            )
    if description is not None:
        product.description = description
    if status is not None:
        product.status = ProductLifecycle(status).value
    session.flush()
    return product
