"""``/api/processes``: start, drive and inspect processes (orchestrator-core's REST contract)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response, status
from pydantic import BaseModel, Field

from orchestrion.api.audit import AuditedRoute, audited_route
from orchestrion.api.openapi import error_responses
from orchestrion.api.security import Principal, current_user
from orchestrion.db.listing import ESTIMATED_HEADER, Estimate, parse_rest
from orchestrion.services import process_views, processes
from orchestrion.types import State

router = APIRouter(route_class=AuditedRoute)

Caller = Annotated[Principal, Depends(current_user)]
FormPages = Annotated[list[dict[str, Any]] | None, Body(description="The form pages filled so far")]
# orchestrator-ui's Retry button sends one object (``{}``) where the pages are a list: it is one page.
ResumePages = Annotated[
    list[dict[str, Any]] | dict[str, Any] | None, Body(description="The step's form pages, or one page")
]


class ProcessIdSchema(BaseModel):
    id: uuid.UUID


class ProcessStatusCountsSchema(BaseModel):
    process_counts: dict[str, int]
    task_counts: dict[str, int]


class ProcessResumeAllSchema(BaseModel):
    count: int


class ProcessPatchSchema(BaseModel):
    note: Annotated[str, Field(max_length=processes.NOTE_LENGTH)] | None = None


class StepSchema(BaseModel):
    step_id: uuid.UUID | None = None
    name: str
    status: str
    created_by: str | None = Field(None, description="Who caused the run that wrote the row")
    action: str | None = Field(
        None, description="How: start, resume, retry, callback, abort, takeover or automatic retry"
    )
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
    parent_process_id: uuid.UUID | None = None  # the process whose step started this one
    branch: list[str] | None = None  # a parallel branch: ``[fork, branch, ...]`` from the top workflow


class ChildProcessSchema(ProcessListItemSchema):
    child_group: str | None = None


class BranchStepSchema(StepSchema):
    branch: list[str] | None = None
    process_id: uuid.UUID | None = None


class ProcessSchema(ProcessListItemSchema):
    traceback: str | None
    note: str | None
    current_state: State
    steps: list[StepSchema]
    form: dict[str, Any] | None = None
    retry_count: int = 0
    next_retry_at: datetime | None = None
    callback_progress: Any = None
    children: list[ChildProcessSchema] = []  # the processes (and parallel branches) its steps started
    branch_steps: list[BranchStepSchema] = []  # the history rows of its parallel branches, each with its branch


@router.get("/status-counts", response_model=ProcessStatusCountsSchema)
def status_counts(response: Response) -> ProcessStatusCountsSchema:
    """How many processes and how many tasks are in each status (routed before ``/{process_id}``); on PostgreSQL
    a status with more than 20,000 is the planner's estimate, flagged by ``X-Total-Count-Estimated: true``."""
    counts = process_views.status_counts()
    if any(isinstance(n, Estimate) for kind in counts.values() for n in kind.values()):
        response.headers[ESTIMATED_HEADER] = "true"
    return ProcessStatusCountsSchema(process_counts=counts["processes"], task_counts=counts["tasks"])


@router.put("/resume-all", response_model=ProcessResumeAllSchema, responses=error_responses(409))
def resume_all(user: Caller) -> ProcessResumeAllSchema:
    """Retry every failed, waiting, api_unavailable or inconsistent_data task; 409 while another such call runs."""
    return ProcessResumeAllSchema(count=processes.resume_all_tasks(user=user.name, user_model=user))


@router.post(
    "/{workflow_key}",
    status_code=status.HTTP_201_CREATED,
    response_model=ProcessIdSchema,
    responses=error_responses(403, 409, 412, 510),
)
def start(
    workflow_key: str,
    user: Caller,
    body: FormPages = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=processes.IDEMPOTENCY_KEY_LENGTH,
            description="Sent again with the same key (within IDEMPOTENCY_KEY_RETENTION_HOURS), the start answers "
            "the process it created the first time and starts nothing: safe to retry after a lost answer.",
        ),
    ] = None,
) -> dict[str, uuid.UUID]:
    """Start a workflow. The body is the list of form pages filled so far; 510 answers the next page."""
    started = processes.start_process(
        workflow_key, body or [], user=user.name, user_model=user, idempotency_key=idempotency_key
    )
    return {"id": started}


@router.put("/{process_id}/resume", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(403, 409, 510))
def resume(process_id: uuid.UUID, user: Caller, body: ResumePages = None) -> Response:
    """Resume a suspended process with its form pages, or retry a failed one (body ``[{}]`` or ``{}``); pages
    ``[]`` ask for the step's form (510 with it), as orchestrator-core answers."""
    pages = [body] if isinstance(body, dict) else body
    processes.resume_process(process_id, [{}] if pages is None else pages, user=user.name, user_model=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{process_id}/abort", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(403))
def abort(process_id: uuid.UUID, user: Caller) -> Response:
    """Abort; a running process stops at its next step boundary."""
    processes.abort_process(process_id, user=user.name, user_model=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{process_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(409))
@audited_route("process.delete", "process", "process_id")
def delete(process_id: uuid.UUID) -> Response:
    processes.delete_process(process_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{process_id}/callback/{token}", status_code=status.HTTP_200_OK, responses=error_responses(409))
def callback(process_id: uuid.UUID, token: str, body: Annotated[Any, Body()] = None) -> dict[str, str]:
    """Deliver an external system's answer to a process awaiting it (single-use token)."""
    processes.deliver_callback(process_id, token, body)
    return {"status": "ok"}


@router.post("/{process_id}/callback/{token}/progress", status_code=status.HTTP_200_OK, responses=error_responses(409))
def callback_progress(process_id: uuid.UUID, token: str, body: Annotated[Any, Body()] = None) -> dict[str, str]:
    """Report progress while the process awaits the callback (any JSON value); shown in the process."""
    processes.report_callback_progress(process_id, token, body)
    return {"status": "ok"}


@router.patch("/{process_id}", response_model=ProcessSchema)
def patch(process_id: uuid.UUID, body: ProcessPatchSchema) -> dict[str, Any]:
    """Change the process's note (``null`` or empty clears it); answers the process."""
    if "note" in body.model_fields_set:
        processes.set_process_note(process_id, body.note)
    return process_views.process_detail(process_id)


@router.get("/{process_id}", response_model=ProcessSchema)
def show(process_id: uuid.UUID) -> dict[str, Any]:
    """A process with its steps (executed ones with state and state change, then the pending ones)."""
    return process_views.process_detail(process_id)


@router.get("/", response_model=list[ProcessListItemSchema])
def list_(
    response: Response,
    range_: str | None = Query(default=None, alias="range", description="first,end (end excluded)"),
    sort: str | None = Query(default=None, description="field,ASC|DESC,..."),
    filter_: str | None = Query(default=None, alias="filter", description="field,value,... (a-b: any of)"),
) -> list[dict[str, Any]]:
    """Processes, newest first unless sorted otherwise; ``Content-Range`` tells the total
    (``X-Total-Count-Estimated: true``: PostgreSQL's estimate)."""
    listing = parse_rest(range_, sort, filter_)
    items, total = process_views.process_page(listing)
    response.headers.update(listing.page.headers("processes", total))
    return items
