"""``/api/workflows``: the registered workflows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from orchestrion.db import get_database
from orchestrion.db.domain_models import ProductTable, products_workflows
from orchestrion.db.models import WorkflowTable
from orchestrion.errors import WorkflowNotFoundError
from orchestrion.workflows import ALL_WORKFLOWS, get_workflow

router = APIRouter()


class WorkflowSchema(BaseModel):
    workflow_id: uuid.UUID | None
    name: str
    target: str
    description: str
    is_task: bool
    products: list[dict[str, Any]] = []


@dataclass
class _Rows:
    """What the database knows of the workflows: rows by name and the products linked to each."""

    rows: dict[str, WorkflowTable]
    products: dict[uuid.UUID, list[dict[str, Any]]]


def _rows() -> _Rows:
    with get_database().read() as session:
        rows = {w.name: w for w in session.execute(select(WorkflowTable)).scalars()}
        products: dict[uuid.UUID, list[dict[str, Any]]] = {}
        linked = session.execute(
            select(products_workflows.c.workflow_id, ProductTable.product_id, ProductTable.name, ProductTable.tag)
            .join(ProductTable, ProductTable.product_id == products_workflows.c.product_id)
            .order_by(ProductTable.name)
        )
        for workflow_id, product_id, product_name, tag in linked:
            products.setdefault(workflow_id, []).append({"product_id": product_id, "name": product_name, "tag": tag})
    return _Rows(rows, products)


def _schema(name: str, known: _Rows) -> WorkflowSchema:
    """The code's workflow with its database row: the row's description (editable) wins over the code's."""
    wf = get_workflow(name)
    assert wf is not None
    row = known.rows.get(name)
    return WorkflowSchema(
        workflow_id=row.workflow_id if row else None,
        name=name,
        target=wf.target.value,
        description=(row.description if row else None) or wf.description or name,
        is_task=wf.is_task,
        products=known.products.get(row.workflow_id, []) if row else [],
    )


@router.get("/", response_model=list[WorkflowSchema])
def list_workflows() -> list[WorkflowSchema]:
    known = _rows()
    return [_schema(name, known) for name in sorted(ALL_WORKFLOWS)]


@router.get("/{name_or_id}", response_model=WorkflowSchema)
def show_workflow(name_or_id: str) -> WorkflowSchema:
    known = _rows()
    by_id = {str(row.workflow_id): name for name, row in known.rows.items()}
    name = by_id.get(name_or_id, name_or_id)
    if name not in ALL_WORKFLOWS:
        raise WorkflowNotFoundError(f"Workflow {name_or_id!r} does not exist")
    return _schema(name, known)
