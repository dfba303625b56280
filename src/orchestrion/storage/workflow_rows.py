"""The ``workflows`` table's one door: rows are created and changed here only.

A workflow's row is created from the code registry on its first process, or by the catalogue (a
file, ``ensure_catalogue``, an application's migration). Whoever creates it, the same defaults
apply; once it exists its description and ``is_task`` are the database's, changed only by the
catalogue or the API, never by a process starting.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orchestrion.db.models import WorkflowTable
from orchestrion.db.types import utcnow
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


def delete_workflow_row(session: Session, name: str) -> None:
    """Remove a workflow: its row goes, unless processes refer to it; then it is marked deleted (history stays)."""
    from orchestrion.db.domain_models import products_workflows
    from orchestrion.db.models import ProcessTable

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
