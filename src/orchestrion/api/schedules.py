"""``/api/schedules``: list, read, create, change and delete the schedules the scheduler runs.

``POST /`` also takes orchestrator-core's body (``scheduled_type: create``, what orchestrator-ui
sends), and ``PUT /`` and ``DELETE /`` take its update and delete bodies; they are applied at once
(``orchestrion.scheduler.core_jobs``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import Discriminator, Tag

from orchestrion.api.audit import AuditedRoute, audited_route
from orchestrion.api.openapi import error_responses
from orchestrion.api.security import Principal, current_user
from orchestrion.db import get_database
from orchestrion.db.types import utcnow
from orchestrion.scheduler import core_jobs, schedules
from orchestrion.scheduler.core_jobs import CoreJobAnswer, CoreJobCreate, CoreJobDelete, CoreJobUpdate
from orchestrion.scheduler.schedules import Schedule, ScheduleChanges, ScheduleSpec

router = APIRouter(route_class=AuditedRoute)
Caller = Annotated[Principal, Depends(current_user)]


def _body_kind(body: Any) -> str:
    """orchestrator-core's bodies name their kind (``scheduled_type``) or the task's ``workflow_id``."""
    core = isinstance(body, dict) and ("scheduled_type" in body or "workflow_id" in body)
    return "core" if core else "orchestrion"


NewSchedule = Annotated[
    Annotated[ScheduleSpec, Tag("orchestrion")] | Annotated[CoreJobCreate, Tag("core")], Discriminator(_body_kind)
]


@router.get("/", response_model=list[Schedule])
def list_schedules() -> list[Schedule]:
    return schedules.list_schedules(get_database())


@router.get("/{schedule_id_or_name}", response_model=Schedule)
def show_schedule(schedule_id_or_name: str) -> Schedule:
    return schedules.get_schedule(get_database(), schedule_id_or_name)


@router.post("/", response_model=Schedule | CoreJobAnswer, status_code=201, responses=error_responses(404, 409))
@audited_route("schedule.create", "schedule")
def create_schedule(body: Annotated[NewSchedule, Body()], user: Caller) -> Schedule | CoreJobAnswer:
    """400 for a bad trigger or a workflow that is not a registered task; 409 for a name in use.

    orchestrator-core's body answers ``{message, status: CREATED}``; its ``workflow_id`` must be the task's (404).
    """
    if isinstance(body, CoreJobCreate):
        created = core_jobs.create_job(get_database(), body, utcnow(), user.name, user)
        return CoreJobAnswer(message=f"Schedule {created.name!r} created", status="CREATED")
    return schedules.create_schedule(get_database(), body, utcnow())


@router.put("/", response_model=CoreJobAnswer, responses=error_responses(404, 409))
@audited_route("schedule.change", "schedule")
def update_core_job(body: CoreJobUpdate, user: Caller) -> CoreJobAnswer:
    """orchestrator-core's update: a new ``name`` and/or ``trigger`` with ``trigger_kwargs``; 404 unknown schedule."""
    changed = core_jobs.update_job(get_database(), body, utcnow(), user.name, user)
    return CoreJobAnswer(message=f"Schedule {changed.name!r} updated", status="UPDATED")


@router.delete("/", response_model=CoreJobAnswer, responses=error_responses(404))
@audited_route("schedule.delete", "schedule")
def delete_core_job(body: CoreJobDelete, user: Caller) -> CoreJobAnswer:
    """orchestrator-core's delete: ``workflow_id`` and ``schedule_id``; 404 when the task has no such schedule."""
    core_jobs.delete_job(get_database(), body, user.name, user)
    return CoreJobAnswer(message=f"Schedule {body.schedule_id} deleted", status="DELETED")


@router.put("/{schedule_id_or_name}", response_model=Schedule, responses=error_responses(409))
@audited_route("schedule.change", "schedule", "schedule_id_or_name")
def replace_schedule(schedule_id_or_name: str, spec: ScheduleSpec) -> Schedule:
    return schedules.replace_schedule(get_database(), schedule_id_or_name, spec, utcnow())


@router.patch("/{schedule_id_or_name}", response_model=Schedule, responses=error_responses(409))
@audited_route("schedule.change", "schedule", "schedule_id_or_name")
def update_schedule(schedule_id_or_name: str, changes: ScheduleChanges) -> Schedule:
    """Change some fields; a new trigger (or enabling) plans the next run from now."""
    return schedules.update_schedule(get_database(), schedule_id_or_name, changes, utcnow())


@router.delete("/{schedule_id_or_name}", status_code=204)
@audited_route("schedule.delete", "schedule", "schedule_id_or_name")
def delete_schedule(schedule_id_or_name: str) -> Response:
    schedules.delete_schedule(get_database(), schedule_id_or_name)
    return Response(status_code=204)
