"""``/api/workflows``: the registered workflows; their descriptions are edited here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel

from orchestrion.api.products import DescriptionPatchSchema
from orchestrion.db import get_database
from orchestrion.engine.registry import ALL_WORKFLOWS, get_workflow
from orchestrion.errors import WorkflowImportError, WorkflowNotFoundError
from orchestrion.storage.workflow_rows import WorkflowRow, describe_workflow, linked_products, workflow_rows

router = APIRouter()


class WorkflowSchema(BaseModel):
    workflow_id: uuid.UUID | None
    name: str
    target: str
    description: str
    is_task: bool
    products: list[dict[str, Any]] = []
    # Why the workflow cannot be used: its module failed to import (the others are unaffected).
    error: str | None = None


@dataclass
class _Rows:
    """What the database knows of the workflows: rows by name and the products linked to each."""

    rows: dict[str, WorkflowRow]
    products: dict[uuid.UUID, list[dict[str, Any]]]


def _rows() -> _Rows:
    with get_database().read() as session:
        return _Rows(workflow_rows(session), linked_products(session))


def _schema(name: str, known: _Rows) -> WorkflowSchema:
    """The code's workflow with its database row: the row's description and ``is_task`` (the catalogue's)
    win over the code's. A workflow whose module cannot be loaded is listed with the error."""
    row = known.rows.get(name)
    error: str | None = None
    try:
        wf = get_workflow(name)
    except WorkflowImportError as e:
        wf, error = None, str(e)
    return WorkflowSchema(
        workflow_id=row.workflow_id if row else None,
        name=name,
        target=row.target if row else (wf.target.value if wf else ""),
        description=(row.description if row else None) or (wf.description if wf else "") or name,
        is_task=row.is_task if row else bool(wf and wf.is_task),
        products=known.products.get(row.workflow_id, []) if row else [],
        error=error,
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


@router.patch("/{workflow_id}", status_code=status.HTTP_201_CREATED, response_model=WorkflowSchema)
def patch_workflow(workflow_id: uuid.UUID, body: DescriptionPatchSchema) -> WorkflowSchema:
    """Change the description of the workflow's row (the catalogue's; it wins over the code's)."""
    with get_database().write() as session:
        name = describe_workflow(session, workflow_id, body.description)
    return _schema(name, _rows())
