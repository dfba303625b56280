"""``/api/processes``: start, drive and inspect processes (orchestrator-core's REST contract)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status
from pydantic import BaseModel
from pydantic_forms.core import generate_form

from orchestrion.api.security import Principal, current_user
from orchestrion.db import get_database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.engine.registry import loaded_workflow
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.steps import StepGroup
from orchestrion.engine.workflow import Workflow
from orchestrion.services import processes
from orchestrion.storage import process_queries
from orchestrion.types import State

router = APIRouter()

Caller = Annotated[Principal, Depends(current_user)]
FormPages = Annotated[list[dict[str, Any]] | None, Body(description="The form pages filled so far")]

_CLEARED = {"success", "skipped", "complete"}


class ProcessIdSchema(BaseModel):
    id: uuid.UUID


class StepSchema(BaseModel):
    step_id: uuid.UUID | None = None
    name: str
    status: str
    created_by: str | None = None
    started: datetime | None = None
    completed: datetime | None = None
    executed: datetime | None = None
    state: State | None = None
    state_delta: State | None = None


class ProcessListItemSchema(BaseModel):
    process_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    workflow_target: str
    is_task: bool
    last_status: str
    last_step: str | None
    assignee: str
    created_by: str | None
    failed_reason: str | None
    started_at: datetime
    last_modified_at: datetime
    subscriptions: list[dict[str, Any]] = []


class ProcessSchema(ProcessListItemSchema):
    traceback: str | None
    note: str | None
    current_state: State
    steps: list[StepSchema]
    form: dict[str, Any] | None = None
    retry_count: int = 0
    next_retry_at: datetime | None = None
    callback_progress: Any = None


def _item(p: ProcessTable, name: str, target: str, subscriptions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "process_id": p.process_id,
        "workflow_id": p.workflow_id,
        "workflow_name": name,
        "workflow_target": target,
        "is_task": p.is_task,
        "last_status": p.last_status,
        "last_step": p.last_step,
        "assignee": p.assignee,
        "created_by": p.created_by,
        "failed_reason": p.failed_reason,
        "started_at": p.started_at,
        "last_modified_at": p.last_modified_at,
        "subscriptions": subscriptions or [],
    }


def _delta(before: State | None, after: State) -> State:
    if before is None:
        return after
    return {k: v for k, v in after.items() if k not in before or before[k] != v}


def _steps(rows: list[ProcessStepTable], wf: Workflow | None, cursor: list[str] | None) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    previous: State | None = None
    for r in rows:
        steps.append(
            {
                "step_id": r.step_id,
                "name": r.name,
                "status": r.status,
                "created_by": r.created_by,
                "started": r.started_at,
                "completed": r.completed_at,
                "executed": r.completed_at,
                "state": r.state,
                "state_delta": _delta(previous, r.state) if r.status in _CLEARED else None,
            }
        )
        if r.status in _CLEARED:
            previous = r.state
    if wf is not None and cursor:
        keys = wf.steps.keys()
        start = keys.index(cursor[0]) if cursor[0] in keys else len(keys)
        if rows and rows[-1].step_key == cursor[0]:
            start += 1  # the current step (or group) already has its row
        steps.extend({"name": s.name, "status": "pending"} for s in wf.steps[start:])
    return steps


def _form(p: ProcessTable, wf: Workflow | None) -> dict[str, Any] | None:
    if p.last_status != ProcessStatus.SUSPENDED or wf is None or not p.cursor:
        return None
    try:
        step = wf.step_at(tuple(p.cursor))
    except KeyError:
        return None
    if step.form is None or isinstance(step, StepGroup):
        return None
    return generate_form(step.form, p.state, [])


@router.post("/{workflow_key}", status_code=status.HTTP_201_CREATED, response_model=ProcessIdSchema)
def start(workflow_key: str, user: Caller, body: FormPages = None) -> dict[str, uuid.UUID]:
    """Start a workflow. The body is the list of form pages filled so far; 510 answers the next page."""
    return {"id": processes.start_process(workflow_key, body or [], user=user.name, user_model=user)}


@router.put("/{process_id}/resume", status_code=status.HTTP_204_NO_CONTENT)
def resume(process_id: uuid.UUID, user: Caller, body: FormPages = None) -> Response:
    """Resume a suspended process with its form pages, or retry a failed one (body ``[{}]``)."""
    processes.resume_process(process_id, body or [{}], user=user.name, user_model=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{process_id}/abort", status_code=status.HTTP_204_NO_CONTENT)
def abort(process_id: uuid.UUID, user: Caller) -> Response:
    """Abort; a running process stops at its next step boundary."""
    processes.abort_process(process_id, user=user.name, user_model=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{process_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(process_id: uuid.UUID) -> Response:
    processes.delete_process(process_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{process_id}/callback/{token}", status_code=status.HTTP_200_OK)
def callback(process_id: uuid.UUID, token: str, body: Annotated[Any, Body()] = None) -> dict[str, str]:
    """Deliver an external system's answer to a process awaiting it (single-use token)."""
    processes.deliver_callback(process_id, token, body)
    return {"status": "ok"}


@router.post("/{process_id}/callback/{token}/progress", status_code=status.HTTP_200_OK)
def callback_progress(process_id: uuid.UUID, token: str, body: Annotated[Any, Body()] = None) -> dict[str, str]:
    """Report progress while the process awaits the callback (a string or an object); shown in the process."""
    processes.report_callback_progress(process_id, token, body)
    return {"status": "ok"}


@router.get("/{process_id}", response_model=ProcessSchema)
def show(process_id: uuid.UUID) -> dict[str, Any]:
    """A process with its steps (executed ones with state and state change, then the pending ones)."""
    with get_database().read() as session:
        p = process_queries.get_process(session, process_id)
        rows = process_queries.process_steps(session, process_id)
        name, target = p.workflow.name, p.workflow.target
        linked = process_queries.subscriptions_of(session, [process_id])[process_id]
    wf = loaded_workflow(name)
    return {
        **_item(p, name, target, linked),
        "traceback": p.traceback,
        "note": p.note,
        "current_state": p.state
        if p.callback_progress is None
        else {**p.state, "callback_progress": p.callback_progress},
        "callback_progress": p.callback_progress,
        "steps": _steps(rows, wf, p.cursor),
        "form": _form(p, wf),
        "retry_count": p.retry_count,
        "next_retry_at": p.next_retry_at,
    }


@router.get("/", response_model=list[ProcessListItemSchema])
def list_(
    response: Response,
    range_: str | None = Query(default=None, alias="range", description="first,end (end excluded)"),
    sort: str | None = Query(default=None, description="field,ASC|DESC,..."),
    filter_: str | None = Query(default=None, alias="filter", description="field,value,... (a-b: any of)"),
) -> list[dict[str, Any]]:
    """Processes, newest first unless sorted otherwise; ``Content-Range`` tells the total."""
    page = process_queries.parse_range(range_)
    with get_database().read() as session:
        rows, total = process_queries.list_processes(
            session, page, sort.split(",") if sort else [], filter_.split(",") if filter_ else []
        )
        linked = process_queries.subscriptions_of(session, [p.process_id for p, _, _ in rows])
    response.headers["Content-Range"] = page.content_range("processes", total)
    return [_item(p, name, target, linked[p.process_id]) for p, name, target in rows]
