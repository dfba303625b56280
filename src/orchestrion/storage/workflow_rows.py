"""The ``workflows`` table's one door: rows are created, changed and read here only.

A workflow's row is created from the code registry on its first process, or by the catalogue (a
file, ``ensure_catalogue``, an application's migration). Whoever creates it, the same defaults
apply; once it exists its description and ``is_task`` are the database's, changed only by the
catalogue or the API, never by a process starting.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import ProductTable, products_workflows
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.db.sessions import connection_of
from orchestrion.db.types import utcnow
from orchestrion.errors import WorkflowNotFoundError
from orchestrion.targets import Target


def default_is_task(target: str | Target) -> bool:
    return Target(str(target).upper()) == Target.SYSTEM


def ensure_workflow_row(
    session: Session,
    name: str,
    target: str | Target,
    *,
    description: str | None = None,
    is_task: bool | None = None,
    workflow_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, bool]:
    """The id of the workflow's row, creating the row when there is none; and whether it was created."""
    found = session.execute(select(WorkflowTable.workflow_id).where(WorkflowTable.name == name)).scalar()
    if found is not None:
        return found, False
    target = Target(str(target).upper())
    new_id = workflow_id or uuid.uuid4()
    session.execute(
        insert(WorkflowTable).values(
            workflow_id=new_id,
            name=name,
            target=target.value,
            description=description or "",
            is_task=default_is_task(target) if is_task is None else is_task,
            created_at=utcnow(),
        )
    )
    return new_id, True


def update_workflow_row(session: Session, name: str, **values: Any) -> list[str]:
    """Set the given columns (None: leave as is) of the workflow's row; the names of those that changed."""
    row = session.execute(select(WorkflowTable).where(WorkflowTable.name == name)).scalar_one()
    changed = [key for key, value in values.items() if value is not None and getattr(row, key) != value]
    for key in changed:
        setattr(row, key, values[key])
    return changed


def describe_workflow(session: Session, workflow_id: uuid.UUID, description: str | None) -> str:
    """Set the description of the workflow row with this id (None: leave it); the workflow's name."""
    row = session.get(WorkflowTable, workflow_id)
    if row is None:
        raise WorkflowNotFoundError(f"Workflow {workflow_id} not found")
    if description is not None:
        row.description = description
        session.flush()
    return row.name


def delete_workflow_row(session: Session, name: str) -> None:
    """Remove a workflow: its row goes, unless processes refer to it; then it is marked deleted (history stays)."""

    row = session.execute(select(WorkflowTable).where(WorkflowTable.name == name)).scalar_one_or_none()
    if row is None:
        return
    session.execute(products_workflows.delete().where(products_workflows.c.workflow_id == row.workflow_id))
    used = session.execute(select(ProcessTable.process_id).where(ProcessTable.workflow_id == row.workflow_id)).first()
    if used is None:
        session.delete(row)
    else:
        row.deleted_at = utcnow()
    session.flush()


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    """A ``workflows`` row as the rest of orchestrion reads it (a copy, not the ORM row)."""

    workflow_id: uuid.UUID
    name: str
    target: str
    description: str
    is_task: bool
    deleted: bool


def _row(w: WorkflowTable) -> WorkflowRow:
    return WorkflowRow(w.workflow_id, w.name, w.target, w.description, w.is_task, w.deleted_at is not None)


def workflow_rows(session: Session) -> dict[str, WorkflowRow]:
    """Every workflow row, by name (deleted ones too, marked)."""
    return {w.name: _row(w) for w in session.execute(select(WorkflowTable)).scalars()}


def workflow_ids(session: Session | Connection, names: list[str]) -> dict[str, uuid.UUID]:
    """The ids of the workflow rows named (those that exist), by name."""
    rows = session.execute(select(WorkflowTable.name, WorkflowTable.workflow_id).where(WorkflowTable.name.in_(names)))
    return {name: workflow_id for name, workflow_id in rows}


def linked_products(session: Session) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The products each workflow is linked to (by workflow id), by product name."""

    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(products_workflows.c.workflow_id, ProductTable.product_id, ProductTable.name, ProductTable.tag)
        .join(ProductTable, ProductTable.product_id == products_workflows.c.product_id)
        .order_by(ProductTable.name)
    )
    for workflow_id, product_id, product_name, tag in rows:
        found.setdefault(workflow_id, []).append({"product_id": product_id, "name": product_name, "tag": tag})
    return found


def products_of_workflow(session: Session, workflow_name: str) -> list[dict[str, Any]]:
    """The products a workflow is linked to (what a create workflow's first page offers), by name."""

    rows = session.execute(
        select(ProductTable.product_id, ProductTable.name, ProductTable.description)
        .join(products_workflows, products_workflows.c.product_id == ProductTable.product_id)
        .join(WorkflowTable, WorkflowTable.workflow_id == products_workflows.c.workflow_id)
        .where(WorkflowTable.name == workflow_name)
        .order_by(ProductTable.name)
    )
    return [dict(row._mapping) for row in rows]


_W = WorkflowTable
# built once: every start of a subscription's workflow asks it (its form checks the workflow is usable)
_PRODUCT_WORKFLOWS = (
    select(_W.workflow_id, _W.name, _W.target, _W.description, _W.is_task)
    .join(products_workflows, products_workflows.c.workflow_id == _W.workflow_id)
    .where(
        products_workflows.c.product_id == bindparam("product_id", type_=products_workflows.c.product_id.type),
        _W.deleted_at.is_(None),
    )
    .order_by(_W.name)
)


def workflows_of_product(session: Session, product_id: uuid.UUID) -> list[WorkflowRow]:
    """The live workflows linked to a product, by name."""
    rows = connection_of(session).execute(_PRODUCT_WORKFLOWS, {"product_id": product_id})
    return [WorkflowRow(*row, deleted=False) for row in rows]
