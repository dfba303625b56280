"""``/api/workflows``: the registered workflows."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from orchestrion.db import get_database
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


def _schema(name: str, ids: dict[str, uuid.UUID]) -> WorkflowSchema:
    wf = get_workflow(name)
    assert wf is not None
    return WorkflowSchema(
        workflow_id=ids.get(name),
        name=name,
        target=wf.target.value,
        description=wf.description or name,
        is_task=wf.is_task,
    )


def _ids() -> dict[str, uuid.UUID]:
    with get_database().read() as session:
        return {name: id_ for name, id_ in session.execute(select(WorkflowTable.name, WorkflowTable.workflow_id))}


@router.get("/", response_model=list[WorkflowSchema])
def list_workflows() -> list[WorkflowSchema]:
    ids = _ids()
    return [_schema(name, ids) for name in sorted(ALL_WORKFLOWS)]


@router.get("/{name_or_id}", response_model=WorkflowSchema)
def show_workflow(name_or_id: str) -> WorkflowSchema:
    ids = _ids()
    by_id = {str(v): k for k, v in ids.items()}
    name = by_id.get(name_or_id, name_or_id)
    if name not in ALL_WORKFLOWS:
        raise WorkflowNotFoundError(f"Workflow {name_or_id!r} does not exist")
    return _schema(name, ids)
